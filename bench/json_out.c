/*
 * json_out.c - shmdb-bench's JSON helpers (json_out.h): numbers rounded to
 * what the measurements carry, unmeasured figures as null, one file
 * written whole.
 */
#include "json_out.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void json_number(cJSON *o, const char *key, double v)
{
	if (isnan(v))
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, round(v * 1000) / 1000);
}

void json_measured(cJSON *o, const char *key, double v)
{
	json_number(o, key, v < 0 ? NAN : v);
}

cJSON *json_figure(cJSON *a, const char *name, const char *unit)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "figure", name);
	cJSON_AddStringToObject(o, "unit", unit);
	cJSON_AddItemToArray(a, o);
	return o;
}

int json_write_file(const char *path, cJSON *root)
{
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	FILE *out = text ? fopen(path, "w") : NULL;
	if (!out) {
		fprintf(stderr, "shmdb-bench: %s: %s\n", path, text ? strerror(errno) : "out of memory");
		cJSON_free(text);
		return -1;
	}
	fprintf(out, "%s\n", text);
	cJSON_free(text);
	if (fclose(out)) {
		fprintf(stderr, "shmdb-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}
