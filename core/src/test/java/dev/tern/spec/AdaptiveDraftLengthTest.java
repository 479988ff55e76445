package dev.tern.spec;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The length rules against values computed by hand: k = floor(ln θ / ln α) clamped to [min, max]
 * without cost data, the best expected tokens per time with it.
 */
class AdaptiveDraftLengthTest {

    @Test
    void startsAtMaxAndFollowsTheAcceptanceRate() {
        AdaptiveDraftLength a = new AdaptiveDraftLength(1, 8, 0.2);
        assertEquals(8, a.next());
        // 3 accepted, the 4th rejected: α = 3/4, ln 0.2 / ln 0.75 = 5.59 → 5.
        a.update(8, 3);
        assertEquals(0.75, a.acceptanceRate(), 1e-12);
        assertEquals(5, a.next());
        // Everything accepted: α = 1 → max.
        AdaptiveDraftLength b = new AdaptiveDraftLength(1, 8, 0.2);
        b.update(5, 5);
        assertEquals(8, b.next());
    }

    @Test
    void rejectionsShrinkToMin() {
        AdaptiveDraftLength a = new AdaptiveDraftLength(2, 8, 0.2);
        a.update(8, 0);
        assertEquals(0, a.acceptanceRate());
        assertEquals(2, a.next());
        // α = 1/2: ln 0.2 / ln 0.5 = 2.32 → 2.
        AdaptiveDraftLength b = new AdaptiveDraftLength(1, 8, 0.2);
        b.update(4, 1);
        assertEquals(2, b.next());
    }

    @Test
    void olderRoundsWeighLess() {
        AdaptiveDraftLength a = new AdaptiveDraftLength(1, 8, 0.2);
        a.update(4, 0); // 0 of 1
        a.update(4, 4); // 4 of 4
        // (0.9·0 + 4) / (0.9·1 + 4)
        assertEquals(4 / 4.9, a.acceptanceRate(), 1e-12);
    }

    @Test
    void emptyRoundsChangeNothingAndBadInputIsRefused() {
        AdaptiveDraftLength a = new AdaptiveDraftLength(1, 8, 0.2);
        a.update(0, 0);
        assertEquals(8, a.next());
        assertThrows(IllegalArgumentException.class, () -> a.update(2, 3));
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveDraftLength(0, 8, 0.2));
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveDraftLength(1, 8, 1.0));
        assertEquals(3, AdaptiveDraftLength.fixed(3).next());
    }

    /** Passes of widths 1..9 costing a + b·width ns, each proposal costing d ns per token. */
    private static void observeLine(AdaptiveDraftLength l, double a, double b, double d) {
        for (int rep = 0; rep < 3; rep++) {
            for (int n = 1; n <= 9; n++) {
                l.observeCost(n, Math.round(a + b * n), n - 1, Math.round(d * (n - 1)));
            }
        }
    }

    @Test
    void withCostsTheLengthMaximisesTokensPerTime() {
        // α = 0.8; pass time 1 + 0.1·(k+1) ms, 0.2 ms per proposed token:
        // E(k) = 1, 1.8, 2.44, 2.952, 3.3616; E/C = 1/1.1, 1.8/1.4, 2.44/1.7, 2.952/2.0, 3.3616/2.3
        // = 0.909, 1.286, 1.435, 1.476, 1.462: k = 3.
        AdaptiveDraftLength l = new AdaptiveDraftLength(1, 8, 0.2);
        l.update(5, 4);
        observeLine(l, 1e6, 1e5, 2e5);
        assertEquals(3, l.next());
    }

    @Test
    void freeWidthProposesTheMaximumAndCostlyWidthTheMinimum() {
        AdaptiveDraftLength flat = new AdaptiveDraftLength(1, 8, 0.2);
        flat.update(4, 1); // α = 1/2: the threshold rule alone would say 2
        observeLine(flat, 1e6, 0, 0);
        assertEquals(8, flat.next());
        // Time proportional to width: α = 1/2: E/C = 1.5/2 = 0.75 at k = 1, 1.75/3 = 0.583 at k = 2.
        AdaptiveDraftLength steep = new AdaptiveDraftLength(1, 8, 0.2);
        steep.update(4, 1);
        observeLine(steep, 0, 1e6, 0);
        assertEquals(1, steep.next());
    }

    /**
     * A fresh process: the first pass of every width runs before the JIT has compiled it, 20×
     * slower. The line of the previous test (optimum k = 3) is found again after 40 warm rounds
     * of the lengths the rule itself chooses; with decayed averages it stayed at 1.
     */
    @Test
    void coldFirstPassesDoNotKeepTheLengthShort() {
        AdaptiveDraftLength l = new AdaptiveDraftLength(1, 8, 0.2);
        l.update(5, 4);
        for (int n = 1; n <= 9; n++) {
            l.observeCost(n, Math.round(20 * (1e6 + 1e5 * n)), n - 1, Math.round(20 * 2e5 * (n - 1)));
        }
        List<Integer> lengths = new ArrayList<>();
        for (int round = 0; round < 40; round++) {
            int k = l.next();
            lengths.add(k);
            l.observeCost(k + 1, Math.round(1e6 + 1e5 * (k + 1)), k, Math.round(2e5 * k));
        }
        assertEquals(3, l.next(), lengths.toString());
        assertTrue(lengths.contains(8), "the maximum is tried again while the costs keep the length short: " + lengths);
    }

    /**
     * Pass times that step up where the kernels change tiles, as stories15M's F32 passes measured on an
     * AVX-512 machine (ms by width 1..9). α = 2/3, free proposals: E(k) = 1.667, 2.111, 2.407, 2.605,
     * 2.737, 2.824, 2.883, 2.922 against C(k+1) = 1.01, 1.05, 1.16, 1.2, 1.3, 1.4, 2.07, 2.07 (a width
     * costs at least what a narrower one does): tokens per ms 1.65, 2.011, 2.075, 2.171, 2.105, 2.017,
     * 1.393, 1.412, so k = 4. The least-squares line through the nine times (0.677 + 0.136·n ms) makes
     * the short passes look cheaper and the long ones dearer, and chooses 3.
     */
    @Test
    void measuredWidthsAreTakenAsTheyAreNotAlongALine() {
        double[] ms = {1.0, 1.01, 1.05, 1.16, 1.2, 1.3, 1.4, 2.07, 2.04};
        AdaptiveDraftLength l = new AdaptiveDraftLength(1, 8, 0.2);
        l.update(3, 2);
        for (int rep = 0; rep < 3; rep++) {
            for (int n = 1; n <= 9; n++) {
                l.observeCost(n, Math.round(ms[n - 1] * 1e6), n - 1, 0);
            }
        }
        assertEquals(2.0 / 3, l.acceptanceRate(), 1e-12);
        assertEquals(4, l.next());
    }

    /** Widths never measured lie on the straight line between the measured ones around them. */
    @Test
    void unmeasuredWidthsLieBetweenTheirNeighbours() {
        // Measured: widths 2 (1 ms) and 9 (1.7 ms), so width n costs 0.8 + 0.1·n ms between them;
        // α = 0.8 and 0.2 ms per proposed token give k = 3, as the line of withCostsTheLengthMaximisesTokensPerTime.
        AdaptiveDraftLength l = new AdaptiveDraftLength(1, 8, 0.2);
        l.update(5, 4);
        for (int rep = 0; rep < 4; rep++) {
            l.observeCost(2, 1_000_000, 1, 200_000);
            l.observeCost(9, 1_700_000, 8, 1_600_000);
        }
        assertEquals(3, l.next());
    }

    @Test
    void costsOfOneWidthOnlyKeepTheThresholdRule() {
        AdaptiveDraftLength l = new AdaptiveDraftLength(1, 8, 0.2);
        l.update(8, 3); // α = 3/4 → 5, as above
        for (int i = 0; i < 20; i++) {
            l.observeCost(9, 5_000_000, 8, 1_000_000);
        }
        assertEquals(5, l.next());
    }
}
