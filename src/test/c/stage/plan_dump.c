/* Test helper: parses a plan with the stage's reader and prints each op in a canonical form, so
 * a Java test can check that PlanEncoder and plan.c agree on every field. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>

/* Strings are printed with newlines escaped so each op stays on one line. */
static void put(const char *s) {
    for (; *s; s++) {
        if (*s == '\n') {
            fputs("\\n", stdout);
        } else {
            putchar(*s);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        return 2;
    }
    static uint8_t buf[PLAN_MAX_SIZE + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct plan p;
    char err[512];
    if (plan_parse(buf, n, &p, err, sizeof err) < 0) {
        printf("ERROR %s\n", err);
        return 1;
    }
    for (uint32_t i = 0; i < p.count; i++) {
        const struct plan_op *op = &p.ops[i];
        printf("%s", plan_op_name(op->code));
        for (int k = 0; k < PLAN_MAX_FIELDS && op->s[k]; k++) {
            printf(" s=");
            put(op->s[k]);
        }
        for (int k = 0; k < 2; k++) {
            if (op->v[k].items) {
                printf(" v=[");
                for (uint32_t j = 0; j < op->v[k].n; j++) {
                    printf(j ? "," : "");
                    put(op->v[k].items[j]);
                }
                printf("]");
            }
        }
        if (op->blob) {
            printf(" b=%u:", op->blob_len);
            for (uint32_t j = 0; j < op->blob_len; j++) {
                printf("%02x", op->blob[j]);
            }
        }
        printf("\n");
    }
    plan_free(&p);
    return 0;
}
