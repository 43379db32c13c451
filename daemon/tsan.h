/*
 * tsan.h - telling ThreadSanitizer about ordering it cannot see. liburcu is
 * not instrumented, so the happens-before edges that its grace periods
 * (call_rcu) provide are invisible to TSan; these annotations state them
 * where our code relies on them. They compile to nothing outside a TSan build.
 */
#ifndef SHMDBD_TSAN_H
#define SHMDBD_TSAN_H

#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define TSAN_ACQUIRE(p) ((void)(p))
#define TSAN_RELEASE(p) ((void)(p))
#endif

#endif /* SHMDBD_TSAN_H */
