/* scan.h - does a byte stream contain a string?  Fed in chunks (a file
 * being copied into a bundle), so a match across two chunks counts too;
 * also notes whether the stream holds a NUL byte (text or binary). */
#ifndef PK_SCAN_H
#define PK_SCAN_H

#include <stddef.h>

typedef struct pk_scan {
    const char *needle;
    size_t nlen;
    unsigned char *tail;  /* the last nlen-1 bytes seen, and room to join */
    size_t ntail;
    int found;            /* the needle was seen */
    int has_nul;          /* a NUL byte was seen */
} pk_scan;

/* needle must be non-empty and outlive the scan.  -1 if out of memory. */
int pk_scan_init(pk_scan *s, const char *needle);
/* Start again on a new stream (same needle). */
void pk_scan_reset(pk_scan *s);
void pk_scan_feed(pk_scan *s, const void *buf, size_t n);
void pk_scan_free(pk_scan *s);

/* A whole file: *found, *has_nul.  -1 after printing why. */
int pk_scan_file(const char *path, const char *needle, int *found, int *has_nul);

#endif
