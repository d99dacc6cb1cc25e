/*
 * Times librpm's version comparison on pairs loaded into memory first.
 *
 * usage: librpm_bench PAIRS_FILE [ROUNDS]
 * PAIRS_FILE has one `left<TAB>right` EVR pair per line ([epoch:]version[-release]).
 *
 * Two methods, each timed over every pair ROUNDS times (the best round is reported):
 *   rpmverCmp  - librpm's EVR comparison on rpmver objects parsed before timing
 *                (epoch, version, release; a missing release sorts first);
 *   rpmvercmp  - librpm's string comparison on version and release, epochs compared as
 *                integers, split before timing (what a caller holding header fields does).
 * Output, one line per method: method<TAB>pairs<TAB>best_seconds<TAB>less/equal/greater counts.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <rpm/rpmver.h>

struct evr { unsigned long epoch; const char *version; const char *release; };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Splits a writable `[E:]V[-R]` in place. */
static struct evr split(char *text) {
    struct evr result = { 0, text, NULL };
    char *colon = strchr(text, ':');
    if (colon) {
        *colon = '\0';
        result.epoch = strtoul(text, NULL, 10);
        result.version = colon + 1;
    }
    char *dash = strrchr(result.version, '-');
    if (dash) {
        *dash = '\0';
        result.release = dash + 1;
    }
    return result;
}

static int compare_split(const struct evr *a, const struct evr *b) {
    if (a->epoch != b->epoch) return a->epoch < b->epoch ? -1 : 1;
    int rc = rpmvercmp(a->version, b->version);
    if (rc) return rc;
    if (a->release && b->release) return rpmvercmp(a->release, b->release);
    return (a->release != NULL) - (b->release != NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PAIRS_FILE [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    FILE *file = fopen(argv[1], "r");
    if (!file) { perror(argv[1]); return 1; }

    size_t capacity = 1 << 20, count = 0;
    rpmver *parsed = malloc(2 * capacity * sizeof *parsed);
    struct evr *split_pairs = malloc(2 * capacity * sizeof *split_pairs);
    char *line = NULL;
    size_t line_capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &line_capacity, file)) > 0) {
        if (line[length - 1] == '\n') line[--length] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        if (count == capacity) {
            capacity *= 2;
            parsed = realloc(parsed, 2 * capacity * sizeof *parsed);
            split_pairs = realloc(split_pairs, 2 * capacity * sizeof *split_pairs);
        }
        parsed[2 * count] = rpmverParse(line);
        parsed[2 * count + 1] = rpmverParse(tab + 1);
        split_pairs[2 * count] = split(strdup(line));
        split_pairs[2 * count + 1] = split(strdup(tab + 1));
        count++;
    }
    fclose(file);

    for (int method = 0; method < 2; method++) {
        double best = 1e30;
        long counts[3] = { 0, 0, 0 };
        for (int round = 0; round < rounds; round++) {
            long round_counts[3] = { 0, 0, 0 };
            double start = now();
            for (size_t i = 0; i < count; i++) {
                int rc = method == 0
                    ? rpmverCmp(parsed[2 * i], parsed[2 * i + 1])
                    : compare_split(&split_pairs[2 * i], &split_pairs[2 * i + 1]);
                round_counts[(rc > 0) - (rc < 0) + 1]++;
            }
            double elapsed = now() - start;
            if (elapsed < best) best = elapsed;
            memcpy(counts, round_counts, sizeof counts);
        }
        printf("%s\t%zu\t%.6f\t%ld/%ld/%ld\n", method == 0 ? "librpm rpmverCmp" : "librpm rpmvercmp",
               count, best, counts[0], counts[1], counts[2]);
    }
    return 0;
}
