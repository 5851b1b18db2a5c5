/* faiss_c_shim.cpp — Keep's own implementation of the FAISS C API functions that
 * Keep calls, for systems (Debian 12) that ship the C API headers but no
 * libfaiss_c, only the C++ libfaiss. Built only when configure finds no real
 * libfaiss_c (automake conditional FAISS_SHIM).
 *
 * Contract, as in the upstream C API: every function returns 0 on success or a
 * negative FaissErrorCode, and the message of the exception that caused the
 * failure stays retrievable with faiss_get_last_error() on the same thread.
 * No C++ exception ever crosses into C: every body runs under catch (...).
 *
 * The declarations come from Debian's headers (and from faiss_c_ext.h for the
 * newer functions), so a signature mismatch is a compile error here. */
#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <string>

#include "index/faiss_c_ext.h"

namespace {

/* The message of the last failure on this thread; empty means none. */
thread_local std::string shim_last_error;

/* Records the exception being handled and maps it to the C API's error code.
 * Must be called from inside a catch block. Assigning the string may itself
 * fail (out of memory): then the message is dropped, never thrown. */
int shim_fail() noexcept
{
    int code = UNKNOWN_EXCEPT;
    const char *what = "unknown C++ exception";
    try {
        throw;
    } catch (const faiss::FaissException &e) {
        code = FAISS_EXCEPT;
        what = e.what();
    } catch (const std::exception &e) {
        code = STD_EXCEPT;
        what = e.what();
    } catch (...) {
    }
    try {
        shim_last_error = what;
    } catch (...) {
        shim_last_error.clear();
    }
    return code;
}

int shim_null_argument(const char *what) noexcept
{
    try {
        shim_last_error = std::string("NULL argument: ") + what;
    } catch (...) {
        shim_last_error.clear();
    }
    return FAISS_EXCEPT;
}

/* FAISS 1.7.3's IndexHNSW::search honours SearchParametersHNSW::sel but
 * ignores its efSearch (it reads hnsw.efSearch; fixed upstream in 1.7.4). The
 * C API promises the per-call value, so the shim sets the field for the
 * duration of the call. The field belongs to the index, so HNSW searches with
 * parameters are serialised by this lock (each takes well under a
 * millisecond); Keep never searches an HNSW index without parameters, which
 * would read the field unlocked. */
std::mutex shim_hnsw_ef_lock;

struct HnswEfOverride {
    faiss::IndexHNSW *index;
    int saved;
    HnswEfOverride(const faiss::IndexHNSW *ix, int ef)
        : index(const_cast<faiss::IndexHNSW *>(ix)), saved(ix->hnsw.efSearch)
    {
        /* the index was created non-const (read_index / index_factory), so
         * writing through the cast pointer is defined */
        index->hnsw.efSearch = ef;
    }
    ~HnswEfOverride()
    {
        index->hnsw.efSearch = saved;
    }
    HnswEfOverride(const HnswEfOverride &) = delete;
    HnswEfOverride &operator=(const HnswEfOverride &) = delete;
};

faiss::Index *as_index(FaissIndex *p)
{
    return reinterpret_cast<faiss::Index *>(p);
}
const faiss::Index *as_index(const FaissIndex *p)
{
    return reinterpret_cast<const faiss::Index *>(p);
}

} // namespace

extern "C" {

const char *faiss_get_last_error()
{
    return shim_last_error.empty() ? nullptr : shim_last_error.c_str();
}

int faiss_index_factory(FaissIndex **p_index, int d, const char *description,
                        FaissMetricType metric)
{
    if (!p_index || !description)
        return shim_null_argument("faiss_index_factory");
    try {
        faiss::Index *idx =
            faiss::index_factory(d, description, static_cast<faiss::MetricType>(metric));
        *p_index = reinterpret_cast<FaissIndex *>(idx);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

void faiss_Index_free(FaissIndex *obj)
{
    /* Index destructors do not throw; the guard keeps that a promise. */
    try {
        delete as_index(obj);
    } catch (...) {
        shim_fail();
    }
}

int faiss_Index_d(const FaissIndex *obj)
{
    return as_index(obj)->d;
}

idx_t faiss_Index_ntotal(const FaissIndex *obj)
{
    return as_index(obj)->ntotal;
}

FaissMetricType faiss_Index_metric_type(const FaissIndex *obj)
{
    return static_cast<FaissMetricType>(as_index(obj)->metric_type);
}

int faiss_Index_add(FaissIndex *index, idx_t n, const float *x)
{
    if (!index || (n > 0 && !x))
        return shim_null_argument("faiss_Index_add");
    try {
        as_index(index)->add(n, x);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

int faiss_Index_search_with_params(const FaissIndex *index, idx_t n, const float *x, idx_t k,
                                   const FaissSearchParameters *params, float *distances,
                                   idx_t *labels)
{
    if (!index || !x || !distances || !labels)
        return shim_null_argument("faiss_Index_search_with_params");
    try {
        const faiss::Index *ix = as_index(index);
        auto *sp = reinterpret_cast<const faiss::SearchParameters *>(params);
        auto *hsp = dynamic_cast<const faiss::SearchParametersHNSW *>(sp);
        auto *hix = hsp ? dynamic_cast<const faiss::IndexHNSW *>(ix) : nullptr;
        if (hix) {
            std::lock_guard<std::mutex> lock(shim_hnsw_ef_lock);
            HnswEfOverride ef(hix, hsp->efSearch);
            ix->search(n, x, k, distances, labels, sp);
        } else {
            ix->search(n, x, k, distances, labels, sp);
        }
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

int faiss_Index_reconstruct(const FaissIndex *index, idx_t key, float *recons)
{
    if (!index || !recons)
        return shim_null_argument("faiss_Index_reconstruct");
    try {
        as_index(index)->reconstruct(key, recons);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

int faiss_Index_reconstruct_n(const FaissIndex *index, idx_t i0, idx_t ni, float *recons)
{
    if (!index || !recons)
        return shim_null_argument("faiss_Index_reconstruct_n");
    try {
        as_index(index)->reconstruct_n(i0, ni, recons);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

int faiss_SearchParameters_new(FaissSearchParameters **p_sp, FaissIDSelector *sel)
{
    if (!p_sp)
        return shim_null_argument("faiss_SearchParameters_new");
    try {
        auto *sp = new faiss::SearchParameters;
        sp->sel = reinterpret_cast<faiss::IDSelector *>(sel);
        *p_sp = reinterpret_cast<FaissSearchParameters *>(sp);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

/* Also frees FaissSearchParametersHNSW (same opaque type, virtual destructor). */
void faiss_SearchParameters_free(FaissSearchParameters *obj)
{
    try {
        delete reinterpret_cast<faiss::SearchParameters *>(obj);
    } catch (...) {
        shim_fail();
    }
}

int faiss_SearchParametersHNSW_new_with(FaissSearchParametersHNSW **p_sp, FaissIDSelector *sel,
                                        int efSearch)
{
    if (!p_sp)
        return shim_null_argument("faiss_SearchParametersHNSW_new_with");
    try {
        auto *sp = new faiss::SearchParametersHNSW;
        sp->sel = reinterpret_cast<faiss::IDSelector *>(sel);
        sp->efSearch = efSearch;
        /* The base pointer is what search() dynamic_casts from. */
        faiss::SearchParameters *base = sp;
        *p_sp = reinterpret_cast<FaissSearchParametersHNSW *>(base);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

int faiss_IDSelectorBitmap_new(FaissIDSelectorBitmap **p_sel, size_t n, const uint8_t *bitmap)
{
    if (!p_sel || (n > 0 && !bitmap))
        return shim_null_argument("faiss_IDSelectorBitmap_new");
    try {
        faiss::IDSelector *sel = new faiss::IDSelectorBitmap(n, bitmap);
        *p_sel = reinterpret_cast<FaissIDSelectorBitmap *>(sel);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

void faiss_IDSelector_free(FaissIDSelector *obj)
{
    try {
        delete reinterpret_cast<faiss::IDSelector *>(obj);
    } catch (...) {
        shim_fail();
    }
}

int faiss_write_index(const FaissIndex *idx, FILE *f)
{
    if (!idx || !f)
        return shim_null_argument("faiss_write_index");
    try {
        faiss::write_index(as_index(idx), f);
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

int faiss_read_index(FILE *f, int io_flags, FaissIndex **p_out)
{
    if (!f || !p_out)
        return shim_null_argument("faiss_read_index");
    try {
        *p_out = reinterpret_cast<FaissIndex *>(faiss::read_index(f, io_flags));
        return OK;
    } catch (...) {
        return shim_fail();
    }
}

} // extern "C"
