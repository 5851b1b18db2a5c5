/* faiss_c_ext.h — declarations of the FAISS C API functions that Keep calls but
 * that Debian 12's headers (FAISS 1.7.3) do not declare yet: search parameters
 * with an ID selector, the HNSW search parameters and the bitmap selector. The
 * signatures are those of newer upstream C API releases, so the same C code
 * links against a real libfaiss_c recent enough to have them (configure should
 * check for these symbols, not just faiss_Index_add_with_ids) or against our
 * shim (index/faiss_c_shim.cpp) over the C++ libfaiss.a.
 *
 * Repeating a typedef is legal C11, so this header stays harmless when a newer
 * FAISS header already declared the same types. */
#ifndef KEEP_FAISS_C_EXT_H
#define KEEP_FAISS_C_EXT_H

#include <stddef.h>
#include <stdint.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/faiss_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-search parameters; `sel` (may be NULL) restricts the candidates inside
 * the index, before the top-k is taken. The selector is borrowed, not owned. */
FAISS_DECLARE_CLASS(SearchParameters)
FAISS_DECLARE_DESTRUCTOR(SearchParameters)
int faiss_SearchParameters_new(FaissSearchParameters **p_sp, FaissIDSelector *sel);

/* params may be NULL (plain search). */
int faiss_Index_search_with_params(const FaissIndex *index, idx_t n, const float *x, idx_t k,
                                   const FaissSearchParameters *params, float *distances,
                                   idx_t *labels);

/* HNSW search parameters: a selector plus the size of the search frontier. */
FAISS_DECLARE_CLASS_INHERITED(SearchParametersHNSW, SearchParameters)
int faiss_SearchParametersHNSW_new_with(FaissSearchParametersHNSW **p_sp, FaissIDSelector *sel,
                                        int efSearch);

/* Selects id iff id / 8 < n and bit (id % 8) of bitmap[id / 8] is set. The
 * bitmap is borrowed: it must outlive the selector. */
FAISS_DECLARE_CLASS(IDSelectorBitmap)
int faiss_IDSelectorBitmap_new(FaissIDSelectorBitmap **p_sel, size_t n, const uint8_t *bitmap);

#ifdef __cplusplus
}
#endif

#endif
