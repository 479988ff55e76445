package dev.tern.spec;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AcceptanceByConfidenceTest {

    @Test
    void startsAtTheConfidenceItself() {
        AcceptanceByConfidence a = new AcceptanceByConfidence();
        assertEquals(0.21, a.chance(0.21f), 1e-6);
        assertEquals(0.6, a.chance(0.6f), 1e-6);
        assertEquals(0.99, a.chance(1f), 1e-9);
        assertEquals(0.01, a.chance(0f), 1e-9);
    }

    /** Outcomes drawn with chance 0.35 + 0.65·confidence (stories260K's for stories15M-distilled) give that line back. */
    @Test
    void learnsTheLineTheOutcomesFollow() {
        AcceptanceByConfidence a = new AcceptanceByConfidence();
        Random rnd = new Random(3);
        for (int i = 0; i < 3000; i++) {
            float c = rnd.nextFloat();
            a.observe(c, rnd.nextDouble() < 0.35 + 0.65 * c);
        }
        assertEquals(0.35 + 0.65 * 0.2, a.chance(0.2f), 0.1);
        assertEquals(0.35 + 0.65 * 0.6, a.chance(0.6f), 0.1);
        assertEquals(0.35 + 0.65 * 0.9, a.chance(0.9f), 0.1);
    }

    @Test
    void recentOutcomesOutweighOldOnes() {
        AcceptanceByConfidence a = new AcceptanceByConfidence();
        Random rnd = new Random(5);
        for (int i = 0; i < 300; i++) {
            a.observe(rnd.nextFloat(), true);
        }
        assertTrue(a.chance(0.3f) > 0.9, "chance " + a.chance(0.3f));
        for (int i = 0; i < 300; i++) {
            a.observe(rnd.nextFloat(), false);
        }
        assertTrue(a.chance(0.3f) < 0.1, "chance " + a.chance(0.3f));
    }
}
