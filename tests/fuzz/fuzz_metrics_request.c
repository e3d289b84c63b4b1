/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_metrics_request.c - the request-head reader of the
 * --metrics endpoint (metrics_request_status, cli/metrics.c).
 *
 * Input: the bytes a scraper (or anyone) sends.  Properties: the answer is
 * 0 (head not complete), 200, 400 or 404; it is 0 exactly when the input
 * holds no blank line (LF LF or LF CR LF); 200 only for a request line
 * "GET /metrics[?...] HTTP/1.x"; once a prefix decides, every longer
 * prefix gives the same answer.  The parser gets a copy of exactly the
 * input's length, so ASan sees any read past it.
 */
#include "fuzz.h"

#include "metrics.h"

static bool has_blank_line(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (d[i] == '\n' && (d[i + 1] == '\n' || (i + 2 < n && d[i + 1] == '\r' &&
                                                   d[i + 2] == '\n')))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_alloc(size);
    int rc, first = 0;

    memcpy(copy, data, size);
    rc = metrics_request_status(copy, size);
    FUZZ_ASSERT(rc == 0 || rc == 200 || rc == 400 || rc == 404, "status %d", rc);
    FUZZ_ASSERT((rc == 0) == !has_blank_line(data, size), "status %d for %zu bytes", rc, size);
    if (rc == 200)
        /* The shortest: "GET /metrics HTTP/1.1" and a blank line of bare
         * LFs (23 bytes), which the reader accepts as HTTP/1.1 allows. */
        FUZZ_ASSERT(size >= 23 && memcmp(data, "GET /metrics", 12) == 0 &&
                    (data[12] == ' ' || data[12] == '?'), "200 for a request that is not "
                    "GET /metrics");
    for (size_t k = 0; k <= size; k++) {
        int p = metrics_request_status(copy, k);

        if (first == 0)
            first = p;
        else
            FUZZ_ASSERT(p == first, "prefix %zu gives %d after %d", k, p, first);
    }
    free(copy);
    return 0;
}
