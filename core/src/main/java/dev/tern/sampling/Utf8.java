package dev.tern.sampling;

/**
 * UTF-8 as constrained sampling reads it, a byte at a time: a character begun by a lead byte is
 * known to lie in a range of code points, narrowed by each continuation byte, and a byte is
 * refused as soon as no valid code point the grammar takes is left in that range.
 */
final class Utf8 {
    private Utf8() {
    }

    /** Continuation bytes a lead byte announces, or -1 for a byte that cannot lead (ASCII leads none: 0). */
    static int continuations(int lead) {
        return lead < 0x80 ? 0 : lead >= 0xC2 && lead <= 0xDF ? 1 : lead >= 0xE0 && lead <= 0xEF ? 2 : lead >= 0xF0 && lead <= 0xF4 ? 3 : -1;
    }

    /** A lead byte's bits of the code point. */
    static int leadBits(int lead, int continuations) {
        return lead & 0x3F >> continuations;
    }

    /** The least code point a sequence with {@code continuations} continuation bytes encodes (shorter forms are overlong). */
    static int least(int continuations) {
        return continuations == 1 ? 0x80 : continuations == 2 ? 0x800 : 0x10000;
    }

    /** The least code point a character begun with {@code prefix}, {@code pending} continuation bytes still due, can be. */
    static int low(int prefix, int pending, int least) {
        return Math.max(least, prefix << 6 * pending);
    }

    /** The greatest code point it can be. */
    static int high(int prefix, int pending) {
        return Math.min(Character.MAX_CODE_POINT, prefix << 6 * pending | (1 << 6 * pending) - 1);
    }

    /** Whether it can still end as a valid code point: its range is not empty and not only surrogates. */
    static boolean encodable(int prefix, int pending, int least) {
        int lo = low(prefix, pending, least), hi = high(prefix, pending);
        return lo <= hi && !(lo >= Character.MIN_SURROGATE && hi <= Character.MAX_SURROGATE);
    }

    /** Whether a decoded code point is valid UTF-8's: not overlong (below {@code least}), not a surrogate, in range. */
    static boolean valid(int c, int least) {
        return c >= least && (c < Character.MIN_SURROGATE || c > Character.MAX_SURROGATE) && c <= Character.MAX_CODE_POINT;
    }
}
