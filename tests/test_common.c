/* test_common.c — keep_buf, UTF-8 helpers, error messages, allocation failure. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

int main(void)
{
    keep_buf b = {0};
    OK(keep_buf_puts(&b, "abc") == KEEP_OK, "buf puts");
    keep_buf_printf(&b, "-%d-", 42);
    ASSERT_EQ_STR(b.data, "abc-42-", "buf printf appends");
    for (int i = 0; i < 1000; i++)
        keep_buf_putc(&b, 'x');
    ASSERT_EQ_INT(b.len, 1007, "buf grows");
    char *taken = keep_buf_take(&b);
    OK(taken && b.data == NULL && b.len == 0, "buf take hands over storage");
    keep_free(taken);

    OK(keep_utf8_valid("h\xc3\xa9llo", 6), "valid utf8");
    OK(!keep_utf8_valid("\xc0\xaf", 2), "overlong rejected");
    OK(!keep_utf8_valid("\xed\xa0\x80", 3), "surrogate rejected");
    OK(!keep_utf8_valid("\xe2\x82", 2), "truncated rejected");
    ASSERT_EQ_INT(keep_utf8_count("h\xc3\xa9", 3), 2, "code point count");
    ASSERT_EQ_INT(keep_utf8_floor("a\xe2\x82", 3), 1, "floor cuts partial sequence");
    ASSERT_EQ_INT(keep_utf8_floor("a\xe2\x82\xac", 4), 4, "floor keeps whole sequence");

    keep_err e;
    int rc = keep_err_set(&e, KEEP_ERR_PARSE, "bad at %d", 7);
    ASSERT_EQ_INT(rc, KEEP_ERR_PARSE, "err_set returns code");
    ASSERT_EQ_STR(e.msg, "bad at 7", "err message formatted");
    ASSERT_EQ_STR(keep_strerror(KEEP_OK), "success", "strerror OK");
    ASSERT_EQ_STR(keep_strerror(9999), "unknown error", "strerror out of range");

    keep_alloc_fail_after(0);
    OK(keep_malloc(10) == NULL, "injected allocation failure");
    keep_alloc_fail_after(-1);
    void *p = keep_malloc(10);
    OK(p != NULL, "allocation after injection disabled");
    keep_free(p);
    OK(keep_reallocarray(NULL, SIZE_MAX / 2, 4) == NULL, "reallocarray overflow is NULL");
    /* a symbolic link as the last component is refused by the nofollow read */
    char dir[] = "/tmp/keep-test-common-XXXXXX", target[64], link[64];
    if (mkdtemp(dir)) {
        snprintf(target, sizeof target, "%s/t.txt", dir);
        snprintf(link, sizeof link, "%s/l.txt", dir);
        FILE *f = fopen(target, "w");
        fputs("hello", f);
        fclose(f);
        OK(symlink(target, link) == 0, "symlink made");
        char *data = NULL;
        size_t len = 0;
        ASSERT_EQ_INT(keep_read_file_nofollow(link, 100, &data, &len, &e), KEEP_ERR_DENIED,
                      "nofollow refuses a symbolic link");
        ASSERT_EQ_INT(keep_read_file(link, 100, &data, &len, &e), KEEP_OK, "plain read follows it");
        ASSERT_EQ_STR(data, "hello", "content read");
        keep_free(data);
        ASSERT_EQ_INT(keep_read_file(target, 3, &data, &len, &e), KEEP_ERR_TOOBIG, "size cap");
        unlink(link);
        unlink(target);
        rmdir(dir);
    }
    return tap_done();
}
