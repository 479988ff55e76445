package dev.tern.spec;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AcceptanceByConfidenceTest {

    @Test
    void startsOnTheStoriesPairsLine() {
        AcceptanceByConfidence a = new AcceptanceByConfidence();
        assertEquals(0.35 + 0.65 * 0.21, a.chance(0.21f), 1e-6);
        assertEquals(0.35 + 0.65 * 0.6, a.chance(0.6f), 1e-6);
        assertEquals(0.99, a.chance(1f), 1e-9);
        assertEquals(0.35, a.chance(0f), 1e-6);
    }

    /** Outcomes drawn with chance 0.1 + 0.8·confidence (a draft more sure of itself than the stories pair) give that line back. */
    @Test
    void learnsTheLineTheOutcomesFollow() {
        AcceptanceByConfidence a = new AcceptanceByConfidence();
        Random rnd = new Random(3);
        for (int i = 0; i < 3000; i++) {
            float c = rnd.nextFloat();
            a.observe(c, rnd.nextDouble() < 0.1 + 0.8 * c);
        }
        assertEquals(0.1 + 0.8 * 0.2, a.chance(0.2f), 0.08);
        assertEquals(0.1 + 0.8 * 0.6, a.chance(0.6f), 0.08);
        assertEquals(0.1 + 0.8 * 0.9, a.chance(0.9f), 0.08);
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
