/* gguf.h — reading GGUF model files (versions 2 and 3, little-endian).
 *
 * A GGUF file is a header, a list of typed key/value metadata, a table of
 * tensor descriptors and a data section. The reader maps the file (or borrows
 * a caller's buffer), validates everything once at open, and then answers
 * queries without copying: strings and tensor data are pointers into the
 * mapping, valid until infer_gguf_close().
 *
 * Everything in the file is untrusted: open() refuses a truncated or corrupt
 * file with a one-line keep_err, and the memory it allocates is bounded by a
 * small multiple of the file size. After a successful open the accessors
 * cannot fail except on a bad index or a type mismatch.
 *
 * Error codes of the getters: KEEP_ERR_NOTFOUND (no such key / index out of
 * range), KEEP_ERR_PARSE (the value has another type than asked for),
 * KEEP_ERR_TOOBIG (an integer does not fit the requested type, a string does
 * not fit the caller's buffer). */
#ifndef KEEP_INFER_GGUF_H
#define KEEP_INFER_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* GGUF metadata value types (on-disk ids). */
typedef enum {
    INFER_GGUF_U8 = 0,
    INFER_GGUF_I8 = 1,
    INFER_GGUF_U16 = 2,
    INFER_GGUF_I16 = 3,
    INFER_GGUF_U32 = 4,
    INFER_GGUF_I32 = 5,
    INFER_GGUF_F32 = 6,
    INFER_GGUF_BOOL = 7,
    INFER_GGUF_STRING = 8,
    INFER_GGUF_ARRAY = 9,
    INFER_GGUF_U64 = 10,
    INFER_GGUF_I64 = 11,
    INFER_GGUF_F64 = 12,
    INFER_GGUF_VTYPE_COUNT = 13
} infer_gguf_vtype;

#define INFER_GGUF_MAX_DIMS 4
#define INFER_GGUF_DEFAULT_ALIGNMENT 32
/* Tensor names longer than this are refused (llama.cpp uses 64). */
#define INFER_GGUF_MAX_NAME 256

typedef struct infer_gguf infer_gguf;

/* A tensor descriptor, copied out by infer_gguf_get_tensor(). Pointers point into
 * the reader and stay valid until infer_gguf_close(). */
typedef struct infer_gguf_tensor {
    const char *name;      /* NUL-terminated */
    uint32_t type;         /* infer_type id (ggml_types.h), always known */
    uint32_t n_dims;       /* 1..4 */
    uint64_t ne[INFER_GGUF_MAX_DIMS]; /* ne[0] = row length; unused dims are 1 */
    uint64_t n_elements;   /* product of ne */
    size_t nbytes;         /* bytes of the encoded data */
    uint64_t offset;       /* within the data section */
    const void *data;      /* offset-aligned to general.alignment relative to
                              the file start (and so in memory when the buffer
                              is page aligned, as a mapping is) */
} infer_gguf_tensor;

/* ---- open / close -------------------------------------------------------- */

/* Maps the file at path read-only and validates it. On success *out is a
 * reader the caller closes with infer_gguf_close(). */
int infer_gguf_open(const char *path, infer_gguf **out, keep_err *err);

/* Same over a caller buffer, which is NOT copied: it must outlive the reader.
 * Caller closes *out with infer_gguf_close(). */
int infer_gguf_open_memory(const void *data, size_t len, infer_gguf **out, keep_err *err);

/* Unmaps and frees; NULL is a no-op. */
void infer_gguf_close(infer_gguf *g);

uint32_t infer_gguf_version(const infer_gguf *g);
/* Size of the mapped file / buffer in bytes. */
size_t infer_gguf_file_size(const infer_gguf *g);
size_t infer_gguf_alignment(const infer_gguf *g);
/* Offset of the data section from the start of the file. */
size_t infer_gguf_data_offset(const infer_gguf *g);

/* Name of a value type ("u32", "string", ...), "?" when unknown. */
const char *infer_gguf_vtype_name(uint32_t vtype);
/* Bytes of one scalar of a value type; 0 for string, array or unknown. */
size_t infer_gguf_vtype_size(uint32_t vtype);

/* ---- metadata by index --------------------------------------------------- */

size_t infer_gguf_kv_count(const infer_gguf *g);
/* Index of key, or -1 when absent. Binary search (O(log n)). */
long infer_gguf_find_key(const infer_gguf *g, const char *key);
/* Key i, NUL-terminated (keys are copied at open); NULL when i is out of range. */
const char *infer_gguf_key(const infer_gguf *g, size_t i);
/* Value type of key i (infer_gguf_vtype), -1 when i is out of range. */
int infer_gguf_kv_type(const infer_gguf *g, size_t i);

/* String value: pointer into the mapping and length; NOT NUL-terminated. */
int infer_gguf_get_str(const infer_gguf *g, size_t i, const char **s, size_t *len);
/* Copies the string value to buf with a NUL; KEEP_ERR_TOOBIG when len >= cap. */
int infer_gguf_get_str_copy(const infer_gguf *g, size_t i, char *buf, size_t cap);
/* Any integer type (u8..u64, i8..i64, and bool as 0/1) with a range check. */
int infer_gguf_get_i64(const infer_gguf *g, size_t i, int64_t *v);
int infer_gguf_get_u64(const infer_gguf *g, size_t i, uint64_t *v);
/* f32 or f64 (integers are not accepted: a float key holding an int is a bug
 * in the file we want to see). */
int infer_gguf_get_f64(const infer_gguf *g, size_t i, double *v);
int infer_gguf_get_bool(const infer_gguf *g, size_t i, int *v);

/* Arrays. elem_type is an infer_gguf_vtype (INFER_GGUF_ARRAY for an array of
 * arrays, whose elements are not accessible). */
int infer_gguf_arr_info(const infer_gguf *g, size_t i, uint32_t *elem_type, uint64_t *count);
/* The j-th string of a string array, O(1); pointer into the mapping, not
 * NUL-terminated. */
int infer_gguf_arr_str(const infer_gguf *g, size_t i, uint64_t j, const char **s, size_t *len);
/* Raw elements of a numeric (or bool) array: count elements of elem_size bytes,
 * little-endian, possibly UNALIGNED: memcpy each element, or use the getters
 * below. */
int infer_gguf_arr_data(const infer_gguf *g, size_t i, const void **data, size_t *elem_size,
                        uint64_t *count);
/* Element j of an integer (or bool) array, range-checked. */
int infer_gguf_arr_i64(const infer_gguf *g, size_t i, uint64_t j, int64_t *v);
/* Element j of an f32 or f64 array. */
int infer_gguf_arr_f64(const infer_gguf *g, size_t i, uint64_t j, double *v);

/* ---- metadata by key (the usual way) -------------------------------------
 * Same codes as above; KEEP_ERR_NOTFOUND when the key is absent. */
int infer_gguf_key_str(const infer_gguf *g, const char *key, const char **s, size_t *len);
int infer_gguf_key_i64(const infer_gguf *g, const char *key, int64_t *v);
int infer_gguf_key_u64(const infer_gguf *g, const char *key, uint64_t *v);
int infer_gguf_key_f64(const infer_gguf *g, const char *key, double *v);
int infer_gguf_key_bool(const infer_gguf *g, const char *key, int *v);
/* The string value of key as a NUL-terminated copy; caller frees with
 * keep_free. NULL when absent, not a string, or on OOM. */
char *infer_gguf_key_strdup(const infer_gguf *g, const char *key);
/* general.architecture as a NUL-terminated string valid until close; "" when
 * absent (the reader refuses an architecture string containing NUL). */
const char *infer_gguf_arch(const infer_gguf *g);
/* Index of the key "<general.architecture>.<suffix>" (e.g. suffix
 * "context_length" -> "llama.context_length"), -1 when absent. */
long infer_gguf_find_arch_key(const infer_gguf *g, const char *suffix);

/* ---- tensors ------------------------------------------------------------- */

size_t infer_gguf_tensor_count(const infer_gguf *g);
/* Fills *t with tensor i; KEEP_ERR_NOTFOUND when out of range. */
int infer_gguf_get_tensor(const infer_gguf *g, size_t i, infer_gguf_tensor *t);
/* Index of the tensor named name, -1 when absent. Binary search. */
long infer_gguf_find_tensor(const infer_gguf *g, const char *name);
/* By name; KEEP_ERR_NOTFOUND when absent. */
int infer_gguf_tensor_by_name(const infer_gguf *g, const char *name, infer_gguf_tensor *t);

/* ---- summary ------------------------------------------------------------- */

/* Appends a human-readable (json == 0) or JSON (json != 0) summary to out:
 * architecture, name, parameter count, file size, tensors per type, tokenizer
 * model/pre/vocabulary size, context length, embedding width, layers, heads,
 * whether a chat template is present. For `keep model info`. */
int infer_gguf_describe(const infer_gguf *g, keep_buf *out, int json);

#endif
