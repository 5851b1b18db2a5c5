/* cancel.c — a cancellation flag shared between the thread that answers and
 * the one that notices the asker left (see retr.h). The hook lets a generator
 * interrupt a prompt evaluation that never returns to check a flag. */
#include <pthread.h>
#include <stdatomic.h>

#include "retr.h"

struct retr_cancel {
    pthread_mutex_t mu;
    atomic_int fired;
    void (*hook)(void *ud);
    void *hook_ud;
};

int retr_cancel_new(retr_cancel **out, keep_err *err)
{
    retr_cancel *c = keep_calloc(1, sizeof *c);
    if (!c)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&c->mu, NULL)) {
        keep_free(c);
        return keep_err_set(err, KEEP_ERR_INTERNAL, "cannot create a mutex");
    }
    atomic_init(&c->fired, 0);
    *out = c;
    return KEEP_OK;
}

void retr_cancel_free(retr_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    keep_free(c);
}

void retr_cancel_fire(retr_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    int was = atomic_exchange(&c->fired, 1);
    if (!was && c->hook)
        c->hook(c->hook_ud); /* under the lock: the hook's target cannot go away meanwhile */
    pthread_mutex_unlock(&c->mu);
}

int retr_cancel_fired(retr_cancel *c) { return c && atomic_load(&c->fired); }

int retr_cancel_hook(retr_cancel *c, void (*fn)(void *ud), void *ud)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    int fired = atomic_load(&c->fired);
    if (fired && fn) {
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    c->hook = fn;
    c->hook_ud = ud;
    pthread_mutex_unlock(&c->mu);
    return 0;
}
