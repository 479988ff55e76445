package dev.tern.sampling;

/**
 * The 32-bit Mersenne Twister (C++'s {@code std::mt19937}), the generator llama.cpp's samplers
 * draw from, and the uniform double libstdc++'s {@code uniform_real_distribution<double>(0, 1)}
 * makes of it: with the same seed, Tern draws the same numbers as llama.cpp.
 */
final class Mt19937 {
    private static final int N = 624;
    private static final int M = 397;
    private static final double TWO_32 = 4294967296.0;
    private final int[] mt = new int[N];
    private int index;

    /** Seeded as {@code std::mt19937(seed)}: the seed's low 32 bits, as llama.cpp's uint32_t. */
    Mt19937(long seed) {
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }
        index = N;
    }

    /** The next 32-bit output, as an unsigned value. */
    long nextUnsigned() {
        if (index == N) {
            twist();
        }
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xffffffffL;
    }

    /**
     * A double in [0, 1) as libstdc++'s {@code generate_canonical<double, 53>} makes it: two
     * outputs, the second the high one, their sum rounded once to a double and scaled by 2^-64.
     */
    double nextDouble() {
        double sum = nextUnsigned();
        sum += nextUnsigned() * TWO_32;
        double r = sum / (TWO_32 * TWO_32);
        return r >= 1.0 ? Math.nextDown(1.0) : r;
    }

    /**
     * A float in [0, 1) as libstdc++'s {@code uniform_real_distribution<float>(0, 1)} makes it (XTC's
     * draw): one output rounded to a float and scaled by 2^-32.
     */
    float nextFloat() {
        float r = (float) nextUnsigned() / 4294967296f;
        return r >= 1f ? Math.nextDown(1f) : r;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
            int next = mt[(i + M) % N] ^ (y >>> 1);
            mt[i] = (y & 1) != 0 ? next ^ 0x9908b0df : next;
        }
        index = 0;
    }
}
