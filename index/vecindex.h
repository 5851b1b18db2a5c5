/* vecindex.h — Keep's vector index over chunk embeddings: nearest chunks of a
 * query embedding by inner product (cosine similarity, since the caller gives
 * L2-normalized float32 vectors), optionally restricted to a set of permitted
 * chunk ids. Talks to FAISS only through its C API.
 *
 * Design:
 * - Two kinds: EXACT (flat, brute force) while the collection is small and
 *   HNSW (approximate graph) when it is large; idx_vec_choose_kind() applies the
 *   threshold from idx_vec_tunables.
 * - FAISS only ever sees dense internal slots 0..n_slots-1; this layer maps
 *   chunk ids (int64) to slots. That lets the permitted-id filter run inside
 *   FAISS, before the top-k, as a bitmap selector over slots (FAISS 1.7.3's
 *   IndexIDMap refuses search parameters, so ids cannot be filtered there).
 * - Removal marks the slot dead (tombstone) in a "live" bitmap that every search
 *   passes to FAISS as a selector, so a removed id is never returned, even by
 *   HNSW which cannot delete. Dead slots cost memory and search time, so when
 *   the dead fraction exceeds tunables.max_dead_fraction the index is rebuilt
 *   from its own stored vectors: automatically inside idx_vec_remove() for
 *   EXACT (a cheap copy), and by idx_vec_maintain() for HNSW (a graph rebuild,
 *   which the caller runs when it can afford it).
 * - A search restricted to few permitted vectors (<= tunables.exact_filter_max)
 *   is computed exactly over just those vectors: graph search with a tight
 *   filter can miss permitted neighbours, and scanning a few vectors is cheap.
 *
 * Threads: no internal locking. Any number of idx_vec_search() calls may run
 * concurrently on one index; every other call needs exclusive access. */
#ifndef KEEP_INDEX_VECINDEX_H
#define KEEP_INDEX_VECINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct idx_vec idx_vec;

typedef enum {
    IDX_VEC_EXACT = 1, /* flat inner-product scan: exact, no build cost */
    IDX_VEC_HNSW = 2   /* HNSW graph: approximate, sub-linear search */
} idx_vec_kind;

/* Largest supported dimension and k; larger values are a usage error. */
#define IDX_VEC_MAX_DIM 16384
#define IDX_VEC_MAX_K 10000

typedef struct idx_vec_tunables {
    /* Use HNSW at or above this many live vectors; go back to EXACT (in
     * idx_vec_maintain) only below half of it, so an index near the threshold
     * does not flip back and forth. */
    size_t hnsw_min_vectors;
    /* Rebuild when dead slots exceed this fraction of all slots... */
    double max_dead_fraction;
    /* ...and there are at least this many of them (tiny indexes never bother). */
    size_t min_dead_for_rebuild;
    /* A filtered search over at most this many permitted live vectors is
     * computed exactly over just those vectors. */
    size_t exact_filter_max;
    int hnsw_m;         /* graph degree (FAISS "HNSW<m>"), 4..256 */
    int hnsw_ef_search; /* search frontier; raised to k when k is larger */
} idx_vec_tunables;

/* Fills t with the defaults (HNSW from 100000 vectors, rebuild above 20% dead,
 * exact filtered search up to 10000 permitted vectors, M=32, efSearch=64). */
void idx_vec_tunables_default(idx_vec_tunables *t);

/* The kind suited to an index of n_vectors live vectors; t may be NULL. */
idx_vec_kind idx_vec_choose_kind(size_t n_vectors, const idx_vec_tunables *t);

/* Caps FAISS's OpenMP parallelism for parallel regions started from the
 * calling thread (n >= 1). */
void idx_vec_set_threads(int n);

/* Creates an empty index of vectors of dim floats. t may be NULL (defaults; a
 * copy is kept). Caller frees *out with idx_vec_free. */
int idx_vec_create(idx_vec **out, size_t dim, idx_vec_kind kind, const idx_vec_tunables *t,
                   keep_err *err);
void idx_vec_free(idx_vec *v);

/* Adds n vectors (row-major, n * dim floats) under the given chunk ids. Fails
 * without changing the index when an id is already present (remove it first),
 * repeated within the batch, negative, or when a component is not finite. */
int idx_vec_add(idx_vec *v, const int64_t *ids, const float *vectors, size_t n, keep_err *err);

/* Removes the given ids; ids not present are ignored. *n_removed (may be NULL)
 * receives how many were present. */
int idx_vec_remove(idx_vec *v, const int64_t *ids, size_t n, size_t *n_removed, keep_err *err);

size_t idx_vec_count(const idx_vec *v); /* live vectors */
size_t idx_vec_dim(const idx_vec *v);
idx_vec_kind idx_vec_get_kind(const idx_vec *v);
size_t idx_vec_dead(const idx_vec *v); /* removed but not yet rebuilt away */
int idx_vec_contains(const idx_vec *v, int64_t id);

/* Restricts a search: `id_bits` (a bitmap over chunk ids: id is permitted
 * when id_base <= id < id_base + id_n_bits and bit id - id_base is set; one
 * pass over the slots, no lookups), else `ids` (n_ids permitted chunk ids,
 * any order, duplicates and unknown ids harmless; a sorted array is the usual
 * input) or, when ids is NULL, `allow` called once per live vector (O(count)
 * calls per search: prefer ids when the permitted set is small). */
typedef int (*idx_vec_allow_fn)(int64_t id, void *ctx);
typedef struct idx_vec_filter {
    const int64_t *ids;
    size_t n_ids;
    idx_vec_allow_fn allow;
    void *ctx;
    const uint8_t *id_bits;
    int64_t id_base, id_n_bits;
    /* Takes precedence over the rest: a bitmap over slots made by
     * idx_vec_filter_slots() on this index since its last change, with
     * n_slot_perm bits set (a caller that repeats one filter keeps it). */
    const uint8_t *slot_bits;
    size_t n_slot_perm;
} idx_vec_filter;

/* The slots f permits (live ones only) as a bitmap for
 * idx_vec_filter.slot_bits; *n_perm receives how many. Valid until the
 * index next changes. Caller frees *bits with keep_free. */
int idx_vec_filter_slots(const idx_vec *v, const idx_vec_filter *f, uint8_t **bits, size_t *n_perm,
                         keep_err *err);

/* The k (1..IDX_VEC_MAX_K) live vectors with the highest inner product with
 * query (dim floats), permitted by filter (NULL: all), best first. ids and
 * scores must hold k entries; *n_found receives how many were filled, which is
 * k whenever k permitted live vectors exist (for HNSW: barring the rare
 * approximate miss, which is retried with a wider search, then exactly). */
int idx_vec_search(const idx_vec *v, const float *query, size_t k, const idx_vec_filter *filter,
                   int64_t *ids, float *scores, size_t *n_found, keep_err *err);

/* Rebuilds the index as `kind` from its live vectors, dropping dead slots.
 * On failure the index is unchanged. */
int idx_vec_rebuild(idx_vec *v, idx_vec_kind kind, keep_err *err);

/* Rebuilds when the dead fraction exceeds the tunable or when the live count
 * calls for the other kind (see hnsw_min_vectors). *rebuilt (may be NULL) is
 * set to 1 when it did. */
int idx_vec_maintain(idx_vec *v, int *rebuilt, keep_err *err);

/* Writes the index to path atomically (temporary file in the same directory,
 * fsync, rename, fsync of the directory), stamped with `generation`: the caller
 * stores the same number in SQLite so that a stale file is detected on load. */
int idx_vec_save(const idx_vec *v, const char *path, uint64_t generation, keep_err *err);

/* Loads an index saved by idx_vec_save. t may be NULL (defaults). Errors tell
 * the caller to rebuild from SQLite:
 *   KEEP_ERR_NOTFOUND  no file at path
 *   KEEP_ERR_VERSION   stale: other generation, other dimension, other format
 *   KEEP_ERR_CORRUPT   truncated, garbled, or inconsistent file
 *   KEEP_ERR_IO        the file exists but could not be read
 * The whole file is checksummed (BLAKE2b) before FAISS parses any of it, so
 * a torn, truncated or bit-rotted file is an error, never a FAISS crash. The
 * checksum is not a signature: the file lives in Keep's private data
 * directory, and whoever can forge it there can equally rewrite the database.
 * Caller frees *out with idx_vec_free. */
int idx_vec_load(idx_vec **out, const char *path, size_t expected_dim,
                 uint64_t expected_generation, const idx_vec_tunables *t, keep_err *err);

#endif
