package dev.tern.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class PassCostsTest {

    @Test
    void noCostsBeforeEnoughPassesOfTwoWidths() {
        PassCosts c = new PassCosts(16, 3, 100);
        c.observe(1, 100);
        c.observe(1, 100);
        c.observe(1, 100);
        assertNull(c.costs(16), "one width only");
        c.observe(4, 110);
        assertEquals(4 + 1, c.costs(4).length);
    }

    @Test
    void measuredWidthsAsTheyAreBetweenThemALineBeyondThemTheFittedSlope() {
        PassCosts c = new PassCosts(16, 1, 100);
        c.observe(2, 100);
        c.observe(4, 110);
        c.observe(8, 200);
        double[] cost = c.costs(12);
        // The least-squares slope through (2, 100), (4, 110), (8, 200): 17.14… per token.
        double slope = ((2 - 14 / 3.0) * (100 - 410 / 3.0) + (4 - 14 / 3.0) * (110 - 410 / 3.0) + (8 - 14 / 3.0) * (200 - 410 / 3.0))
                / (Math.pow(2 - 14 / 3.0, 2) + Math.pow(4 - 14 / 3.0, 2) + Math.pow(8 - 14 / 3.0, 2));
        assertEquals(110, cost[4], 1e-9);
        assertEquals(105, cost[3], 1e-9, "halfway between its neighbours, not along the fitted line");
        assertEquals(155, cost[6], 1e-9);
        assertEquals(200 + 3 * slope, cost[11], 1e-9);
        assertEquals(Math.max(100 - slope, 5), cost[1], 1e-9, "before the first, back along the slope");
    }

    @Test
    void neverCheaperWithWidth() {
        PassCosts c = new PassCosts(16, 1, 100);
        c.observe(2, 300);
        c.observe(5, 200);
        double[] cost = c.costs(6);
        for (int n = 2; n <= 6; n++) {
            assertEquals(300, cost[n], 1e-9);
        }
    }

    @Test
    void aFasterPassLowersTheEstimateAtOnceASlowerOneALittle() {
        PassCosts c = new PassCosts(16, 1, 100);
        c.observe(1, 100);
        c.observe(2, 1000);
        c.observe(2, 400);
        assertEquals(400, c.costs(2)[2], 1e-9);
        c.observe(2, 600);
        assertEquals(410, c.costs(2)[2], 1e-9);
    }

    @Test
    void aWidthNotSeenForAWhileIsForgotten() {
        PassCosts c = new PassCosts(16, 1, 4);
        c.observe(8, 900);
        c.observe(1, 100);
        c.observe(2, 110);
        c.observe(1, 100);
        assertEquals(900, c.costs(8)[8], 1e-9);
        c.observe(2, 110);
        // Width 8 was last seen five passes ago: it is extrapolated from the two recent widths now.
        assertEquals(110 + 6 * 10, c.costs(8)[8], 1e-9);
    }
}
