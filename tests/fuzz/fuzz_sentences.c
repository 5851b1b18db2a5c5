/* fuzz_sentences.c — the answering layer's text analysis on any bytes:
 * sentence spans stay inside the text, in order and non-empty; word
 * iteration and prompt neutralising never read out of bounds, and a
 * neutralised text never holds the fence or a chat control marker. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retrieve/ask_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_word(void *ud, const char *s, size_t n, const char *stem, int stop)
{
    (void)s;
    (void)stop;
    size_t *count = ud;
    if (n == 0 || strlen(stem) >= RETR__MAX_WORD)
        abort(); /* checksrc: allow (fuzz oracle) */
    (*count)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data;
    retr_span *sp = NULL;
    size_t n = 0;
    keep_err err;
    if (retr_sentences(t, size, &sp, &n, &err) == KEEP_OK) {
        size_t prev = 0;
        for (size_t i = 0; i < n; i++)
            if (sp[i].start < prev || sp[i].end <= sp[i].start || sp[i].end > size)
                abort(); /* checksrc: allow (fuzz oracle) */
            else
                prev = sp[i].end;
    }
    keep_free(sp);
    size_t words = 0;
    retr__words_each(t, size, on_word, &words);
    keep_buf b = {0};
    if (retr__neutral(&b, t, size) == 0 && b.data &&
        (memmem(b.data, b.len, "SOURCES>>>", 10) || memmem(b.data, b.len, "</source", 8) ||
         memmem(b.data, b.len, "<|", 2) || memmem(b.data, b.len, "|>", 2)))
        abort(); /* checksrc: allow (fuzz oracle) */
    keep_buf_free(&b);
    return 0;
}
