package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama-server's code-completion limits: {@code n_indent} (after the first line, a less indented line ends the
 * text before its first character) and {@code t_max_predict_ms} (past it, a newline ends the text); and
 * {@code n_predict} 0, which only computes the prompt.
 */
class LineLimitsTest {

    private static String feed(LineWatch w, String... pieces) {
        StringBuilder kept = new StringBuilder();
        for (String p : pieces) {
            kept.append(w.accept(p));
            if (w.ended()) {
                break;
            }
        }
        return kept.toString();
    }

    @Test
    void aLessIndentedLineEndsTheText() {
        LineWatch w = new LineWatch(new LineLimits(4, 0));
        assertEquals("if (x) {\n    y();\n  ", feed(w, "if (x)", " {\n", "    y", "();\n", "  }", "\nmore"));
        assertTrue(w.ended());
    }

    @Test
    void theFirstLineBlankLinesAndTabsDoNotEndIt() {
        LineWatch w = new LineWatch(new LineLimits(2, 0));
        String all = "x = 1;\n\n  \n\t\ty();\n  z";
        assertEquals(all, feed(w, "x", " = 1;", "\n\n", "  \n\t", "\ty();\n", "  z"));
        assertFalse(w.ended());
        LineWatch none = new LineWatch(LineLimits.NONE);
        assertEquals("a\nb\nc", feed(none, "a\n", "b\n", "c"));
        assertFalse(none.ended());
    }

    @Test
    void pastTheTimeLimitANewlineEndsTheText() throws Exception {
        LineWatch w = new LineWatch(new LineLimits(0, 20));
        assertEquals("ab\n", feed(w, "a", "b\n"));
        assertFalse(w.ended(), "within the time limit");
        Thread.sleep(40);
        assertEquals("cd\n", feed(w, "c", "d\n", "e"));
        assertTrue(w.ended());
    }

    /**
     * Through the scheduler on stories260K: an indent limit no line meets leaves the greedy text up to its first
     * newline (and the blanks after it), finished as a length limit; n_predict 0 computes the prompt, nothing more.
     */
    @Test
    void theSchedulerEndsTheTextAtTheLimits() throws Exception {
        try (Tern tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, new Tern.Options(1, 256, 4, KVCacheType.F32));
             Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), SchedulerConfig.defaults())) {
            s.start();
            int[] prompt = tern.tokenizer().encode("Once upon a time", true, false);
            SchedulerTest.Collector free = new SchedulerTest.Collector();
            s.submit(Request.greedy(prompt, 200), free);
            free.await();
            String text = free.text.toString();
            int nl = text.indexOf('\n');
            assertTrue(nl > 0 && text.substring(nl).strip().length() > 0, "the greedy text goes on past a newline: " + text);
            int cut = nl + 1;
            while (text.charAt(cut) == ' ' || text.charAt(cut) == '\t') {
                cut++;
            }
            SchedulerTest.Collector limited = new SchedulerTest.Collector();
            s.submit(new Request(prompt, SamplerConfig.greedy(), 200, List.of(), -1, OutputFormat.TEXT, new int[0], 0, -1, null, false,
                    new LineLimits(100, 0), ContextShift.NONE), limited);
            RequestResult r = limited.await();
            assertEquals(text.substring(0, cut), limited.text.toString());
            assertEquals(FinishReason.LENGTH, r.reason());

            SchedulerTest.Collector warm = new SchedulerTest.Collector();
            s.submit(new Request(prompt, SamplerConfig.greedy(), 0, List.of(), -1), warm);
            RequestResult w = warm.await();
            assertEquals(0, w.completionTokens());
            assertEquals("", warm.text.toString());
            assertEquals(FinishReason.LENGTH, w.reason());
        }
    }
}
