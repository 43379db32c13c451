/*
 * idle.c - the writer's idle strategy (see idle.h).
 *
 * Estimates are moving averages with weight 1/8 of the newest sample:
 * enough memory to ride out one odd gap, short enough to follow a change
 * of traffic within a few transactions. Measured prices are clamped to
 * [1 µs, 1 ms], so that a client's stamp (which it may forge) or a
 * preempted writer cannot push the strategy anywhere absurd.
 *
 * Backoff decides from three figures:
 *   - gap:    quiet time before work arrives, less the time the writer's
 *             thread was away meanwhile on a contended cpu (idle_away: a
 *             commit that comes while it is off its cpu waits for the
 *             cpu). Below the price of a wake-up, traffic is dense: poll
 *             (at most twice the gap, never past window_cap); above it,
 *             poll only BURST_POLL_NS, which catches the next transaction
 *             of a burst, then park (waiting longer than a wake-up costs
 *             more cpu than the wake-up costs latency: the ski-rental
 *             rule). On a contended cpu the price is that of stepping
 *             aside if higher: how long a yield keeps the writer off its
 *             cpu (away_ns), which every commit that comes meanwhile
 *             waits for, up to twice a wake-up (stepping_aside). In two
 *             clients' 95/5 mix on two cpus, the writer sharing one,
 *             commits came 8-12 µs apart, a wake-up cost 6-7 µs and a
 *             yield 15-21 µs: judged sparse, the writer yielded 2 µs
 *             after each commit, and the client on the other cpu waited
 *             for the one on the writer's to block.
 *   - period and jitter of arrivals: when arrivals are steady (jitter
 *     under a quarter of the period) and the period is longer than a
 *     wake-up, the writer parks right after its work (no burst window:
 *     the next one comes a period on) with a timeout that ends `lead`
 *     before the next expected arrival, and then polls until a little
 *     after it: the commit finds the writer polling, as under spin.
 *   - lead: the measured lateness of timed parks and its deviation, the
 *     jitter, how long after their arrival the parks a stand-in overtook
 *     woke (miss), and a margin of 1 µs. Each park costs this host about
 *     13.5 µs of cpu however long it lasts, and every microsecond of lead
 *     is one polled, so the lead is lean: the misses it allows (a stand-in
 *     serves those, about 12 µs) raise it through `miss` while they last.
 *     A lateness far past the estimate counts as a little
 *     past it (idle_woke): a lead grown past the period would end timed
 *     parks, and with them the samples that could bring it back; should
 *     it pass anyway, a probing park every PROBE_EVERY arrivals takes
 *     samples still.
 * And one fact: whether the writer's cpu is contended (it was preempted
 * since the last look). Then, once the window has passed, backoff yields
 * the cpu once and looks again before it parks: what else runs there gets
 * the cpu at once, and work that came meanwhile is served without a
 * wake-up. It polls through the window even on a contended cpu: yielding
 * there instead (as it once did) hands the cpu to the other thread for
 * its whole slice while commits wait; in the mixed workloads of two
 * clients on two cpus that did 0.55-0.65 of the operations polling does.
 */
#include "idle.h"

#define WAKE_INIT_NS 30000ull   /* before any measurement: this machine's order */
#define PRICE_MIN_NS 1000ull
#define PRICE_MAX_NS 1000000ull
#define BURST_POLL_NS 2000ull   /* poll after work at least this long */
#define LEAD_MARGIN_NS 1000ull  /* wake this much earlier than the estimates say */
#define POLL_SLACK_NS 5000ull   /* after a timed wake, poll this long past the arrival */
#define MIN_TIMED_PARK_NS 5000ull /* shorter parks are not worth a timer */
#define PROBE_EVERY 16u           /* arrivals polled through between probing parks */
#define LATE_OUTLIER_NS 10000ull  /* a timed park's lateness counts at most this past
				    * the estimate and four deviations */
#define CLIENT_SPIN_SPIN_NS 200000u
#define CLIENT_SPIN_BACKOFF_NS 20000u

static uint64_t ewma(uint64_t avg, uint64_t sample)
{
	return avg ? avg - avg / 8 + sample / 8 : sample;
}

static uint64_t clamp_price(uint64_t ns)
{
	return ns < PRICE_MIN_NS ? PRICE_MIN_NS : ns > PRICE_MAX_NS ? PRICE_MAX_NS : ns;
}

void idle_init(struct idle *s, enum idle_policy policy, uint64_t window_cap_ns)
{
	*s = (struct idle){ .policy = policy, .window_cap_ns = window_cap_ns,
			    .wake_ns = WAKE_INIT_NS };
}

const char *idle_policy_name(enum idle_policy p)
{
	return p == IDLE_SPIN ? "spin" : p == IDLE_SLEEP ? "sleep" : "backoff";
}

void idle_arrival(struct idle *s, uint64_t now, uint64_t quiet_since)
{
	/* Work that rang the doorbell arrived when it rang, not when the
	 * writer woke: the wake-up's delay is no part of the traffic's pace. */
	if (s->rung_ns && s->rung_ns <= now && now - s->rung_ns < PRICE_MAX_NS && s->rung_ns > quiet_since)
		now = s->rung_ns;
	s->rung_ns = 0;
	uint64_t quiet = now > quiet_since ? now - quiet_since : 0;
	s->gap_ns = ewma(s->gap_ns, quiet > s->away_quiet_ns ? quiet - s->away_quiet_ns : 1);
	s->away_quiet_ns = 0;
	if (s->last_arrival_ns && now > s->last_arrival_ns) {
		uint64_t interval = now - s->last_arrival_ns;
		uint64_t dev = s->period_ns > interval ? s->period_ns - interval
						       : interval - s->period_ns;
		s->jitter_ns = s->period_ns ? ewma(s->jitter_ns, dev) : interval / 2;
		s->period_ns = ewma(s->period_ns, interval);
	}
	s->last_arrival_ns = now;
	s->poll_until_ns = 0;
	s->yielded = false;
}

void idle_rung(struct idle *s, uint64_t rung_ns)
{
	s->rung_ns = rung_ns;
}

/* Arrivals steady enough to be worth waking ahead of. */
static bool steady(const struct idle *s)
{
	return s->period_ns > s->wake_ns && s->jitter_ns * 4 < s->period_ns;
}

/* The price a gap is weighed against: a wake-up's; on a contended cpu,
 * what a yield keeps the writer away if that is more (every commit that
 * comes meanwhile waits for the cpu), but no more than twice a wake-up,
 * which is about what a park costs a commit from another cpu (a stand-in
 * serves it there, two switches of that cpu): a yield longer than that is
 * a time slice given to another thread, and parking is cheaper. */
static uint64_t stepping_aside(const struct idle *s)
{
	if (!s->contended || s->away_ns <= s->wake_ns)
		return s->wake_ns;
	return s->away_ns < 2 * s->wake_ns ? s->away_ns : 2 * s->wake_ns;
}

bool idle_dense(const struct idle *s)
{
	return s->policy != IDLE_SLEEP && s->gap_ns && s->gap_ns < stepping_aside(s);
}

void idle_away(struct idle *s, uint64_t ns)
{
	if (s->contended)
		s->away_quiet_ns += ns;
}

void idle_yielded(struct idle *s, uint64_t ns)
{
	s->away_ns = ewma(s->away_ns, clamp_price(ns));
}

bool idle_watching(const struct idle *s)
{
	return s->policy == IDLE_BACKOFF && (idle_dense(s) || steady(s));
}

enum idle_action idle_next(struct idle *s, uint64_t now, uint64_t quiet_since,
			   uint64_t *timeout_ns)
{
	*timeout_ns = 0;
	if (s->policy == IDLE_SPIN)
		return IDLE_POLL;
	if (s->policy == IDLE_SLEEP)
		return IDLE_PARK;
	if (now < s->poll_until_ns)
		return IDLE_POLL;
	uint64_t quiet = now - quiet_since;
	quiet = quiet > s->away_quiet_ns ? quiet - s->away_quiet_ns : 0;
	uint64_t window = BURST_POLL_NS;
	if (idle_dense(s)) /* a park would cost each transaction a wake-up */
		window = s->gap_ns * 2 > window ? s->gap_ns * 2 : window;
	else if (steady(s)) /* the next one comes a period on, not in a burst */
		window = 0;
	if (window > s->window_cap_ns)
		window = s->window_cap_ns;
	if (quiet < window)
		return IDLE_POLL;
	/* Past the window on a contended cpu: let the others run once, and
	 * look again, before parking. */
	if (s->contended && !s->yielded) {
		s->yielded = true;
		return IDLE_YIELD;
	}
	if (steady(s)) {
		uint64_t expected = s->last_arrival_ns + s->period_ns;
		uint64_t miss = s->miss_ns < s->period_ns / 4 ? s->miss_ns : s->period_ns / 4;
		uint64_t lead = s->late_ns + s->late_dev_ns + s->jitter_ns + miss +
				LEAD_MARGIN_NS;
		if (expected > now + lead + MIN_TIMED_PARK_NS) {
			*timeout_ns = expected - lead - now;
			s->polled_through = 0;
			return IDLE_PARK;
		}
		/* A lead that leaves no room for a timed park (one late wake
		 * can do that) would end the samples that could shorten it:
		 * every PROBE_EVERY arrivals polled through, park half the
		 * way to the next one anyway, for a sample. */
		if (s->polled_through >= PROBE_EVERY && expected > now + 2 * MIN_TIMED_PARK_NS) {
			*timeout_ns = (expected - now) / 2;
			s->polled_through = 0;
			return IDLE_PARK;
		}
		if (expected + POLL_SLACK_NS > now) { /* it is due now: wait for it polling */
			s->poll_until_ns = expected + 2 * s->jitter_ns + POLL_SLACK_NS;
			s->polled_through++;
			return IDLE_POLL;
		}
	}
	return IDLE_PARK;
}

void idle_woke(struct idle *s, uint64_t now, uint64_t deadline, uint64_t rung_ns)
{
	bool missed = s->missed; /* for this wake only, however it ended */
	s->missed = false;
	if (rung_ns) {
		if (now > rung_ns)
			s->wake_ns = ewma(s->wake_ns, clamp_price(now - rung_ns));
		s->rung_ns = rung_ns;
		return;
	}
	if (!deadline || now < deadline)
		return; /* woken for another reason (a signal, reclamation's watch) */
	/* A wake far later than the others (the writer preempted in its
	 * park) counts as a little later only: were the estimate to pass the
	 * period, the writer would stop parking with a timeout, and so stop
	 * measuring, and poll every gap from then on. The first sample has
	 * the wake-up's price to go by. */
	uint64_t late = clamp_price(now - deadline);
	uint64_t most = s->late_ns ? s->late_ns + 4 * s->late_dev_ns + LATE_OUTLIER_NS
				   : 2 * s->wake_ns;
	if (late > most)
		late = most;
	/* The first sample starts the deviation at a quarter of itself, not
	 * at all of it (its distance from nothing): a first park 36 µs late
	 * would have asked a lead of 111 µs, past a 100 µs period, and so
	 * ended timed parks, and with them the samples that could lower it. */
	s->late_dev_ns = s->late_ns ? ewma(s->late_dev_ns, late > s->late_ns ? late - s->late_ns
									   : s->late_ns - late)
				    : late / 4;
	s->late_ns = ewma(s->late_ns, late);
	/* The arrival it was for came first (a stand-in served it): wake
	 * ahead of the next ones by as much more, for as long as misses
	 * last (a hit brings it down by an eighth). Nothing to poll through. */
	if (missed) {
		uint64_t over = now > s->last_arrival_ns ? now - s->last_arrival_ns : 0;
		s->miss_ns = ewma(s->miss_ns, clamp_price(over));
		return;
	}
	s->miss_ns -= s->miss_ns / 8;
	/* Woken ahead of the expected arrival: poll through it. */
	uint64_t expected = s->last_arrival_ns + s->period_ns;
	s->poll_until_ns = expected + 2 * s->jitter_ns + POLL_SLACK_NS;
}

void idle_missed(struct idle *s)
{
	s->missed = true;
}

void idle_contention(struct idle *s, uint64_t now, uint64_t preempted)
{
	s->contended = s->looked_ns && preempted > s->preempted;
	s->preempted = preempted;
	s->looked_ns = now;
}

uint32_t idle_client_spin_ns(const struct idle *s)
{
	return s->policy == IDLE_SPIN ? CLIENT_SPIN_SPIN_NS
	       : s->policy == IDLE_SLEEP ? 0 : CLIENT_SPIN_BACKOFF_NS;
}
