/* libFuzzer target: the plan reader must reject or accept any input without a memory error. */
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct plan p;
    char err[256];
    if (plan_parse(data, size, &p, err, sizeof err) == 0) {
        /* Touch every parsed field so the sanitizers see any bad pointer. */
        volatile size_t sum = 0;
        for (uint32_t i = 0; i < p.count; i++) {
            for (int k = 0; k < PLAN_MAX_FIELDS; k++) {
                if (p.ops[i].s[k]) {
                    for (const char *c = p.ops[i].s[k]; *c; c++) {
                        sum += (unsigned char)*c;
                    }
                }
            }
            for (int k = 0; k < 2; k++) {
                for (uint32_t j = 0; j < p.ops[i].v[k].n; j++) {
                    sum += p.ops[i].v[k].items[j][0] == '\0';
                }
            }
            if (p.ops[i].blob_len) {
                sum += p.ops[i].blob[p.ops[i].blob_len - 1];
            }
        }
        plan_free(&p);
    }
    return 0;
}
