package dev.tern.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The length rule against values computed by hand: k = floor(ln θ / ln α) clamped to [min, max]. */
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
}
