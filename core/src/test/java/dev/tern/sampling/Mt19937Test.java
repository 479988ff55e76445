package dev.tern.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The generator against C++'s: values printed by g++ 12 / libstdc++ for the same seeds. */
class Mt19937Test {

    /** The C++ standard's own check: the 10000th output of a default-constructed std::mt19937 (seed 5489). */
    @Test
    void tenThousandthOutputOfTheDefaultSeed() {
        Mt19937 g = new Mt19937(5489);
        for (int i = 1; i < 10000; i++) {
            g.nextUnsigned();
        }
        assertEquals(4123659995L, g.nextUnsigned());
    }

    @Test
    void seedOfAllOnes() {
        assertEquals(419326371L, new Mt19937(4294967295L).nextUnsigned());
    }

    /** llama.cpp's seed is a uint32_t: a seed's higher bits change nothing. */
    @Test
    void onlyTheLow32BitsOfASeedCount() {
        Mt19937 a = new Mt19937(42), b = new Mt19937(42 + (7L << 32));
        for (int i = 0; i < 1000; i++) {
            assertEquals(a.nextUnsigned(), b.nextUnsigned());
        }
    }

    /** std::uniform_real_distribution&lt;double&gt;(0, 1) on std::mt19937(42), and on (7) after 700 draws. */
    @Test
    void uniformDoublesAsLibstdcxx() {
        Mt19937 g = new Mt19937(42);
        assertEquals(0.79654298428784598, g.nextDouble(), 0.0);
        assertEquals(0.18343478789336848, g.nextDouble(), 0.0);
        assertEquals(0.77969099761266125, g.nextDouble(), 0.0);
        Mt19937 h = new Mt19937(7);
        for (int i = 0; i < 700; i++) {
            h.nextDouble();
        }
        assertEquals(0.95370783634930867, h.nextDouble(), 0.0);
    }

    /** std::uniform_real_distribution&lt;float&gt;(0, 1) on std::mt19937(42), and on (4294967295) after 500 draws. */
    @Test
    void uniformFloatsAsLibstdcxx() {
        Mt19937 g = new Mt19937(42);
        assertEquals(0.37454012f, g.nextFloat(), 0f);
        assertEquals(0.796543002f, g.nextFloat(), 0f);
        assertEquals(0.95071429f, g.nextFloat(), 0f);
        Mt19937 h = new Mt19937(4294967295L);
        for (int i = 0; i < 500; i++) {
            h.nextFloat();
        }
        assertEquals(0.912676632f, h.nextFloat(), 0f);
    }
}
