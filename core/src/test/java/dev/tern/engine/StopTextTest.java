package dev.tern.engine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopTextTest {
    @Test
    void holdsBackWhatMayBecomeAStopString() {
        StopText t = new StopText(List.of("END", "\n\n"));
        assertEquals("ab", t.append("abE"));
        assertEquals("", t.append("N"));
        assertEquals("ENx", t.append("x"), "no longer a prefix: released");
        assertEquals("y", t.append("y\n"));
        assertEquals("", t.append("\nmore"));
        assertTrue(t.stopped());
        assertEquals("", t.finish());
    }

    @Test
    void stopInsideOnePieceCutsBeforeIt() {
        StopText t = new StopText(List.of("cd", "b"));
        assertEquals("a", t.append("abcd"), "the earliest stop wins");
        assertTrue(t.stopped());
    }

    @Test
    void finishReleasesAHeldBackTail() {
        StopText t = new StopText(List.of("xyz"));
        assertEquals("hello ", t.append("hello xy"));
        assertFalse(t.stopped());
        assertEquals("xy", t.finish());
    }
}
