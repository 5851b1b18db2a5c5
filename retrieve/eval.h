/* eval.h — retrieval quality metrics, computed as trec_eval does (nDCG with
 * linear gain, recall, reciprocal rank). Used by `keep eval beir`. */
#ifndef KEEP_RETRIEVE_EVAL_H
#define KEEP_RETRIEVE_EVAL_H

#include <stddef.h>

typedef struct retr_judgment {
    const char *doc; /* document id as the collection names it */
    int grade;       /* > 0 relevant; higher is more relevant */
} retr_judgment;

/* ranked: document ids best first (no duplicates). judged: this query's
 * judgments. */
double retr_eval_ndcg(const char *const *ranked, size_t n_ranked, const retr_judgment *judged,
                      size_t n_judged, size_t k);
double retr_eval_recall(const char *const *ranked, size_t n_ranked, const retr_judgment *judged,
                        size_t n_judged, size_t k);
double retr_eval_rr(const char *const *ranked, size_t n_ranked, const retr_judgment *judged,
                    size_t n_judged, size_t k);

#endif
