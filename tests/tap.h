/* tap.h — the unit-test harness: each check prints a TAP line ("ok N - what" /
 * "not ok N - what"), failed checks print both sides, and tap_done() prints the
 * plan. Automake's tap-driver counts the lines, so the suite's total counts
 * every check, not every program. Header-only so each test stays one file. */
#ifndef KEEP_TAP_H
#define KEEP_TAP_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

static inline void tap_result(int ok, const char *file, int line, const char *what)
{
    tap_count++;
    if (!ok)
        tap_failed++;
    printf("%sok %d - %s\n", ok ? "" : "not ", tap_count, what);
    if (!ok)
        printf("#   at %s:%d\n", file, line);
    fflush(stdout);
}

#define OK(cond, what) tap_result(!!(cond), __FILE__, __LINE__, (what))

#define ASSERT_EQ_INT(a, b, what)                                                              \
    do {                                                                                       \
        long long tap_a = (long long)(a), tap_b = (long long)(b);                              \
        tap_result(tap_a == tap_b, __FILE__, __LINE__, (what));                                \
        if (tap_a != tap_b)                                                                    \
            printf("#   %s == %lld, %s == %lld\n", #a, tap_a, #b, tap_b);                      \
    } while (0)

#define ASSERT_EQ_STR(a, b, what)                                                              \
    do {                                                                                       \
        const char *tap_a = (a), *tap_b = (b);                                                 \
        int tap_ok = tap_a && tap_b && strcmp(tap_a, tap_b) == 0;                              \
        tap_result(tap_ok, __FILE__, __LINE__, (what));                                        \
        if (!tap_ok)                                                                           \
            printf("#   %s == \"%s\"\n#   %s == \"%s\"\n", #a, tap_a ? tap_a : "(null)", #b,  \
                   tap_b ? tap_b : "(null)");                                                  \
    } while (0)

#define ASSERT_NEAR(a, b, tol, what)                                                           \
    do {                                                                                       \
        double tap_a = (double)(a), tap_b = (double)(b);                                       \
        int tap_ok = fabs(tap_a - tap_b) <= (tol);                                             \
        tap_result(tap_ok, __FILE__, __LINE__, (what));                                        \
        if (!tap_ok)                                                                           \
            printf("#   %s == %g, %s == %g\n", #a, tap_a, #b, tap_b);                          \
    } while (0)

/* Prints the plan and returns the process status for main(). */
static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

/* Path of a file in ../shared/fixtures (KEEP_FIXTURES overrides); static buffer. */
static inline const char *tap_fixture(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("KEEP_FIXTURES");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/fixtures", rel);
    return path;
}

#endif
