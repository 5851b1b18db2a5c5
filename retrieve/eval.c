/* eval.c — nDCG@k (linear gain, log2 discount, ideal from every judged
 * relevant document, as trec_eval's ndcg_cut), Recall@k and RR@k. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int grade_of(const char *doc, const retr_judgment *judged, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(judged[i].doc, doc) == 0)
            return judged[i].grade > 0 ? judged[i].grade : 0;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    return *(const int *)b - *(const int *)a;
}

double retr_eval_ndcg(const char *const *ranked, size_t n_ranked, const retr_judgment *judged,
                      size_t n_judged, size_t k)
{
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < n_ranked && i < k; i++)
        dcg += grade_of(ranked[i], judged, n_judged) / log2((double)i + 2);
    int *g = malloc((n_judged ? n_judged : 1) * sizeof *g);
    if (!g)
        return 0;
    size_t m = 0;
    for (size_t i = 0; i < n_judged; i++)
        if (judged[i].grade > 0)
            g[m++] = judged[i].grade;
    qsort(g, m, sizeof *g, cmp_desc);
    for (size_t i = 0; i < m && i < k; i++)
        idcg += g[i] / log2((double)i + 2);
    free(g);
    return idcg > 0 ? dcg / idcg : 0;
}

double retr_eval_recall(const char *const *ranked, size_t n_ranked, const retr_judgment *judged,
                        size_t n_judged, size_t k)
{
    size_t relevant = 0, found = 0;
    for (size_t i = 0; i < n_judged; i++)
        relevant += judged[i].grade > 0;
    for (size_t i = 0; i < n_ranked && i < k; i++)
        found += grade_of(ranked[i], judged, n_judged) > 0;
    return relevant ? (double)found / (double)relevant : 0;
}

double retr_eval_rr(const char *const *ranked, size_t n_ranked, const retr_judgment *judged,
                    size_t n_judged, size_t k)
{
    for (size_t i = 0; i < n_ranked && i < k; i++)
        if (grade_of(ranked[i], judged, n_judged) > 0)
            return 1.0 / (double)(i + 1);
    return 0;
}
