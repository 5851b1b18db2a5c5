/* test_retrieve.c — query building and evaluation metrics. */
#include <math.h>
#include <string.h>

#include "retrieve/eval.h"
#include "retrieve/retr.h"
#include "tap.h"

static void test_expression(void)
{
    char *m = NULL;
    keep_err err;
    retr_fts_expression("How long are \"backups\" kept? NEAR(x) -y title:z*", &m, &err);
    ASSERT_EQ_STR(m, "\"long\" OR \"backups\" OR \"kept\" OR \"NEAR\" OR \"x\" OR \"y\" OR \"title\" OR \"z\"",
                  "words quoted, operators and stop words dropped");
    keep_free(m);
    retr_fts_expression("the of and", &m, &err);
    ASSERT_EQ_STR(m, "\"the\" OR \"of\" OR \"and\"", "only stop words: kept");
    keep_free(m);
    retr_fts_expression("\"*():^-", &m, &err);
    OK(m == NULL, "no words: no expression");
    retr_fts_expression("Größe 日本語 café", &m, &err);
    ASSERT_EQ_STR(m, "\"Größe\" OR \"日本語\" OR \"café\"", "non-Latin words kept whole");
    keep_free(m);
    retr_fts_expression("backup backup backup", &m, &err);
    ASSERT_EQ_STR(m, "\"backup\"", "duplicate words once");
    keep_free(m);
}

static void test_metrics(void)
{
    const retr_judgment j[] = {{"a", 3}, {"b", 1}, {"c", 2}, {"z", 0}};
    const char *ranked[] = {"b", "x", "a", "c"};
    /* DCG = 1/log2(2) + 0 + 3/log2(4) + 2/log2(5); IDCG = 3 + 2/log2(3) + 1/log2(4) */
    double dcg = 1 + 3 / 2.0 + 2 / log2(5), idcg = 3 + 2 / log2(3) + 0.5;
    ASSERT_NEAR(retr_eval_ndcg(ranked, 4, j, 4, 10), dcg / idcg, 1e-9, "nDCG linear gain");
    ASSERT_NEAR(retr_eval_ndcg(ranked, 4, j, 4, 1), 1.0 / 3.0, 1e-9, "nDCG@1");
    ASSERT_NEAR(retr_eval_recall(ranked, 4, j, 4, 2), 1.0 / 3.0, 1e-9, "recall@2");
    ASSERT_NEAR(retr_eval_recall(ranked, 4, j, 4, 100), 1.0, 1e-9, "recall@100");
    const char *ranked2[] = {"x", "y", "c"};
    ASSERT_NEAR(retr_eval_rr(ranked2, 3, j, 4, 10), 1.0 / 3.0, 1e-9, "reciprocal rank");
    ASSERT_NEAR(retr_eval_rr(ranked2, 3, j, 4, 2), 0.0, 1e-9, "RR cut at k");
}

int main(void)
{
    test_expression();
    test_metrics();
    return tap_done();
}
