/*
 * selftest.h: the golden self-test (device --selftest, make check).
 */
#ifndef SELFTEST_H
#define SELFTEST_H

/* selftest encodes the frames the device sends and compares them byte for
 * byte with golden_dir/twin_*.cbor, and decodes the golden frames the
 * device receives. Returns 0 when every check passed. */
int selftest(const char *golden_dir);

#endif
