/*
 * selftest.h: the golden self-test (device --selftest, make check).
 */
#ifndef SELFTEST_H
#define SELFTEST_H

/* selftest encodes the frames the device sends and compares them byte for
 * byte with golden_dir/twin_*.cbor, decodes the golden frames the device
 * receives, and decodes `mutations` randomly mutated golden frames, each
 * of which must be decoded or refused (make fuzz runs many under
 * AddressSanitizer and UBSan). Returns 0 when every check passed. */
int selftest(const char *golden_dir, long mutations);

#endif
