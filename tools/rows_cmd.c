/*
 * rows_cmd.c - the shmdb tool's typed rows (see rows_cmd.h): schemas and
 * rows from command-line text, rows out as JSON through cJSON.
 *
 * Text to values: integers in decimal (strtoll/strtoull, the whole operand,
 * in range), doubles as strtod reads them, bools as true/false or 1/0,
 * strings and bytes as the operand's bytes. Nothing is written to the store
 * unless every operand parsed.
 */
#include "rows_cmd.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum shmdb_type type;
} type_names[] = {
	{ "i32", SHMDB_I32 }, { "i64", SHMDB_I64 },   { "u64", SHMDB_U64 }, { "f64", SHMDB_F64 },
	{ "bool", SHMDB_BOOL }, { "str", SHMDB_STR }, { "blob", SHMDB_BLOB },
};

/* "NAME:TYPE[?]" into *c (name points into def, which is cut at ':'). */
static int parse_def(char *def, shmdb_column *c)
{
	char *colon = strchr(def, ':');
	if (!colon || colon == def) {
		fprintf(stderr, "shmdb: create: '%s' is not NAME:TYPE\n", def);
		return 2;
	}
	*colon = 0;
	char *type = colon + 1;
	size_t len = strlen(type);
	*c = (shmdb_column){ .name = def };
	if (len && type[len - 1] == '?') {
		c->flags = SHMDB_NULLABLE;
		type[--len] = 0;
	}
	for (size_t i = 0; i < sizeof(type_names) / sizeof(*type_names); i++)
		if (!strcmp(type, type_names[i].name)) {
			c->type = type_names[i].type;
			return 0;
		}
	char *end;
	if (!strncmp(type, "fixed", 5) && type[5] >= '1' && type[5] <= '9') {
		unsigned long n = strtoul(type + 5, &end, 10);
		if (!*end && n <= SHMDB_MAX_KEY) {
			c->type = SHMDB_FIXED;
			c->size = (uint32_t)n;
			return 0;
		}
	}
	fprintf(stderr, "shmdb: create: column '%s': unknown type '%s' (i32 i64 u64 f64 bool "
		"str blob fixedN, with ? after it for a nullable column)\n", def, type);
	return 2;
}

int rows_create(shmdb *db, const char *name, int n, char **defs, int flags, shmdb_table *t)
{
	if (n > SHMDB_MAX_COLUMNS) {
		fprintf(stderr, "shmdb: create: at most %d columns\n", SHMDB_MAX_COLUMNS);
		return 2;
	}
	shmdb_column cols[SHMDB_MAX_COLUMNS];
	for (int i = 0; i < n; i++) {
		int rc = parse_def(defs[i], &cols[i]);
		if (rc)
			return rc;
	}
	int e = shmdb_table_create_rows(db, name, cols, (unsigned)n, flags, t);
	if (e == -EINVAL) {
		fprintf(stderr, "shmdb: create: the columns do not make a schema (names 1..63 "
			"printable bytes, no two alike; the first, the key, not nullable)\n");
		return 2;
	}
	if (e == -EEXIST) {
		fprintf(stderr, "shmdb: create: table '%s' exists with another kind or schema\n",
			name);
		return 1;
	}
	if (e) {
		fprintf(stderr, "shmdb: create: %s\n", shmdb_strerror(e));
		return 1;
	}
	return 0;
}

/* Whether text starts as a number may: a digit, or a '-' (when `sign`)
 * and a digit; strtoll, strtoull and strtod would skip spaces and take a
 * '+', and strtoull a '-' (wrapping around). */
static int number_start(const char *text, int sign)
{
	if (sign && text[0] == '-')
		text++;
	return isdigit((unsigned char)text[0]);
}

static int parse_i64(const char *text, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	errno = 0;
	if (!number_start(text, 1))
		return -1;
	long long x = strtoll(text, &end, 10);
	if (*end || errno || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

static int parse_u64(const char *text, uint64_t *v)
{
	char *end;
	errno = 0;
	if (!number_start(text, 0))
		return -1;
	*v = strtoull(text, &end, 10);
	return *end || errno ? -1 : 0;
}

/* A double: decimal or the words strtod knows (inf, nan), no spaces. */
static int parse_f64(const char *text, double *v)
{
	char *end;
	errno = 0;
	if (!*text || isspace((unsigned char)text[0]) || text[0] == '+')
		return -1;
	*v = strtod(text, &end);
	return *end || errno ? -1 : 0;
}

/* Set column col of b (of type `type`) from text. 0, or -1 if it does not
 * parse; else the builder's error. */
static int set_from_text(shmdb_row *b, unsigned col, const shmdb_column *c, const char *text)
{
	int64_t i;
	uint64_t u;
	double f;
	switch (c->type) {
	case SHMDB_I32:
		return parse_i64(text, INT32_MIN, INT32_MAX, &i) ? -1
								  : shmdb_row_set_i32(b, col, (int32_t)i);
	case SHMDB_I64:
		return parse_i64(text, INT64_MIN, INT64_MAX, &i) ? -1 : shmdb_row_set_i64(b, col, i);
	case SHMDB_U64:
		return parse_u64(text, &u) ? -1 : shmdb_row_set_u64(b, col, u);
	case SHMDB_F64:
		return parse_f64(text, &f) ? -1 : shmdb_row_set_f64(b, col, f);
	case SHMDB_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "1"))
			return shmdb_row_set_bool(b, col, true);
		if (!strcmp(text, "false") || !strcmp(text, "0"))
			return shmdb_row_set_bool(b, col, false);
		return -1;
	default:
		return shmdb_row_set_bytes(b, col, text, strlen(text));
	}
}

int rows_insert(shmdb *db, shmdb_table t, int n, char **assigns, uint64_t *ts)
{
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_row *b;
	int e = shmdb_row_new(db, t, &b);
	if (e) {
		fprintf(stderr, "shmdb: insert: %s\n",
			e == -EINVAL ? "not a table of rows" : shmdb_strerror(e));
		return e == -EINVAL ? 2 : 1;
	}
	if ((e = shmdb_read_begin(db, &r))) {
		fprintf(stderr, "shmdb: insert: %s\n", shmdb_strerror(e));
		shmdb_row_free(b);
		return 1;
	}
	if ((e = shmdb_schema_get(r, t, &s))) {
		fprintf(stderr, "shmdb: insert: %s\n", shmdb_strerror(e));
		shmdb_read_end(r);
		shmdb_row_free(b);
		return 1;
	}
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		char *eq = strchr(assigns[i], '=');
		if (!eq) {
			fprintf(stderr, "shmdb: insert: '%s' is not COLUMN=VALUE\n", assigns[i]);
			rc = 2;
			break;
		}
		*eq = 0;
		int col = shmdb_column_index(s, assigns[i]);
		if (col < 0) {
			fprintf(stderr, "shmdb: insert: no column '%s'\n", assigns[i]);
			rc = 2;
			break;
		}
		shmdb_column c;
		const char *name;
		size_t len;
		shmdb_schema_column(s, (unsigned)col, &c, &name, &len);
		e = set_from_text(b, (unsigned)col, &c, eq + 1);
		if (e) {
			fprintf(stderr, "shmdb: insert: column '%s': '%s' is not %s\n", assigns[i],
				eq + 1,
				c.type == SHMDB_FIXED ? "of the column's size"
				: c.type == SHMDB_STR ? "UTF-8"
						      : "a value of the column's type");
			rc = 2;
		}
	}
	shmdb_wtxn *w = NULL;
	if (!rc && !(e = shmdb_write_begin(db, &w)) && !(e = shmdb_put_row(w, t, b)))
		e = shmdb_commit(w, ts);
	else if (w)
		shmdb_abort(w);
	if (!rc && e) {
		fprintf(stderr, "shmdb: insert: %s\n",
			e == -EINVAL ? "a column that is not nullable was not given, or the key "
				       "column makes no key"
				     : shmdb_strerror(e));
		rc = e == -EINVAL ? 2 : 1;
	}
	shmdb_read_end(r);
	shmdb_row_free(b);
	return rc;
}

int rows_key(const shmdb_schema *s, const char *text, uint8_t *out, size_t *klen)
{
	if (!*text) {
		fprintf(stderr, "shmdb: a key is at least 1 byte\n");
		return 2;
	}
	return rows_value_key(s, 0, text, out, klen);
}

int rows_value_key(const shmdb_schema *s, unsigned col, const char *text, uint8_t *out,
		   size_t *klen)
{
	shmdb_column c;
	const char *name;
	size_t len;
	int64_t i;
	shmdb_schema_column(s, col, &c, &name, &len);
	int ok = 1;
	switch (c.type) {
	case SHMDB_I32:
		ok = !parse_i64(text, INT32_MIN, INT32_MAX, &i);
		*klen = ok ? shmdb_key_i32((int32_t)i, out) : 0;
		break;
	case SHMDB_I64:
		ok = !parse_i64(text, INT64_MIN, INT64_MAX, &i);
		*klen = ok ? shmdb_key_i64(i, out) : 0;
		break;
	case SHMDB_U64: {
		uint64_t u;
		ok = !parse_u64(text, &u);
		*klen = ok ? shmdb_key_u64(u, out) : 0;
		break;
	}
	case SHMDB_F64: {
		double f;
		ok = !parse_f64(text, &f);
		*klen = ok ? shmdb_key_f64(f, out) : 0;
		ok = ok && *klen;
		break;
	}
	case SHMDB_BOOL:
		ok = !strcmp(text, "true") || !strcmp(text, "false") || !strcmp(text, "1") ||
		     !strcmp(text, "0");
		out[0] = text[0] == 't' || text[0] == '1';
		*klen = 1;
		break;
	default:
		*klen = strlen(text);
		ok = *klen <= SHMDB_MAX_KEY && (c.type != SHMDB_FIXED || *klen == c.size);
		if (ok)
			memcpy(out, text, *klen);
	}
	if (!ok) {
		fprintf(stderr, "shmdb: '%s' is not a value of column '%.*s'\n", text, (int)len,
			name);
		return 2;
	}
	return 0;
}

/* A JSON string of n bytes, written here as a JSON literal: a quote, a
 * backslash and every control character escaped; the rest of a STR's
 * UTF-8 as it is (a NUL too, as \u0000: cJSON's strings would stop at
 * it); every other byte of a BLOB or a FIXED that is not printable ASCII
 * as \u00XX of the byte. */
static cJSON *bytes_json(const uint8_t *p, size_t n, int utf8)
{
	char *lit = malloc(6 * n + 3), *o = lit;
	if (!lit)
		return NULL;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			*o++ = '\\';
			*o++ = (char)p[i];
		} else if ((p[i] >= 0x20 && p[i] < 0x7f) || (utf8 && p[i] >= 0x80)) {
			*o++ = (char)p[i];
		} else {
			o += sprintf(o, "\\u%04x", p[i]);
		}
	}
	*o++ = '"';
	*o = 0;
	cJSON *j = cJSON_CreateRaw(lit);
	free(lit);
	return j;
}

static cJSON *column_json(const shmdb_schema *s, shmdb_val row, unsigned col,
			  const shmdb_column *c)
{
	char num[32];
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	double f;
	bool bo;
	shmdb_val v;
	int e;
	switch (c->type) {
	case SHMDB_I32:
		if ((e = shmdb_row_i32(s, row, col, &i32)))
			break;
		snprintf(num, sizeof(num), "%" PRId32, i32);
		return cJSON_CreateRaw(num);
	case SHMDB_I64:
		if ((e = shmdb_row_i64(s, row, col, &i64)))
			break;
		snprintf(num, sizeof(num), "%" PRId64, i64);
		return cJSON_CreateRaw(num);
	case SHMDB_U64:
		if ((e = shmdb_row_u64(s, row, col, &u64)))
			break;
		snprintf(num, sizeof(num), "%" PRIu64, u64);
		return cJSON_CreateRaw(num);
	case SHMDB_F64:
		if ((e = shmdb_row_f64(s, row, col, &f)))
			break;
		if (isnan(f))
			return cJSON_CreateString("NaN");
		if (isinf(f))
			return cJSON_CreateString(f > 0 ? "Infinity" : "-Infinity");
		/* The fewest digits that read back as the same double. */
		for (int digits = 15; digits <= 17; digits++) {
			snprintf(num, sizeof(num), "%.*g", digits, f);
			if (strtod(num, NULL) == f)
				break;
		}
		return cJSON_CreateRaw(num);
	case SHMDB_BOOL:
		if ((e = shmdb_row_bool(s, row, col, &bo)))
			break;
		return cJSON_CreateBool(bo);
	default:
		if ((e = shmdb_row_bytes(s, row, col, &v)))
			break;
		return bytes_json(v.data, v.len, c->type == SHMDB_STR);
	}
	return e == -ENODATA ? cJSON_CreateNull() : NULL;
}

int rows_print_json(const shmdb_schema *s, shmdb_val row)
{
	cJSON *obj = cJSON_CreateObject();
	int ok = obj != NULL;
	for (unsigned col = 0; ok && col < shmdb_schema_columns(s); col++) {
		shmdb_column c;
		const char *name;
		size_t len;
		char key[SHMDB_MAX_COLUMN_NAME + 1];
		shmdb_schema_column(s, col, &c, &name, &len);
		memcpy(key, name, len);
		key[len] = 0;
		cJSON *v = column_json(s, row, col, &c);
		ok = v && cJSON_AddItemToObject(obj, key, v);
	}
	char *text = ok ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	if (!text) {
		fprintf(stderr, "shmdb: a row that is not of its table's schema, or no memory\n");
		return 1;
	}
	puts(text);
	free(text);
	return 0;
}

void rows_print_columns(const shmdb_schema *s)
{
	printf("  columns:");
	for (unsigned col = 0; col < shmdb_schema_columns(s); col++) {
		shmdb_column c;
		const char *name;
		size_t len;
		shmdb_schema_column(s, col, &c, &name, &len);
		printf(" %.*s:", (int)len, name);
		if (c.type == SHMDB_FIXED)
			printf("fixed%u", (unsigned)c.size);
		for (size_t i = 0; i < sizeof(type_names) / sizeof(*type_names); i++)
			if (type_names[i].type == c.type)
				printf("%s", type_names[i].name);
		if (c.flags & SHMDB_NULLABLE)
			printf("?");
	}
	printf("\n");
}

void rows_print_indexes(shmdb_rtxn *r, shmdb_table t)
{
	shmdb_index_info info[SHMDB_MAX_COLUMNS];
	size_t n;
	if (shmdb_indexes(r, t, info, SHMDB_MAX_COLUMNS, &n) || n == 0)
		return;
	printf("  indexes:");
	for (size_t i = 0; i < n && i < SHMDB_MAX_COLUMNS; i++) {
		char state[96] = "";
		if (info[i].error)
			snprintf(state, sizeof(state), " (failed: %s)", shmdb_strerror(info[i].error));
		else if (!info[i].ready)
			snprintf(state, sizeof(state), " (being built)");
		printf("%s %s%s%s", i ? "," : "", info[i].column,
		       info[i].flags & SHMDB_UNIQUE ? " (unique)" : "", state);
	}
	printf("\n");
}
