package dev.tern.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code tern run} with speculation: the same greedy tokens as without, plus its statistics. */
class SpeculativeRunTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TARGET = Fixtures.stories15M("stories15M-distilled-f32.gguf").toString();
    private static final String DRAFT = Fixtures.stories260K("stories260K-f32.gguf").toString();

    private static JsonNode run(String... extra) throws Exception {
        String[] base = {"run", "-m", TARGET, "--temp", "0", "-n", "60", "-t", "2", "--format", "json"};
        String[] args = new String[base.length + extra.length + 1];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        args[args.length - 1] = "Once upon a time";
        Cli r = Cli.run(args);
        assertEquals(0, r.exitCode(), r.err());
        return JSON.readTree(r.out());
    }

    @Test
    void draftModelAndPromptLookupKeepTheGreedyOutput() throws Exception {
        JsonNode plain = run();
        assertTrue(plain.get("speculative") == null);
        for (JsonNode spec : new JsonNode[]{run("--draft-model", DRAFT, "--draft-max", "8"), run("--spec", "ngram")}) {
            assertEquals(plain.get("tokens"), spec.get("tokens"));
            assertEquals(plain.get("text"), spec.get("text"));
            assertEquals(60, spec.get("timings").get("predicted_n").asInt());
            JsonNode s = spec.get("speculative");
            long drafted = s.get("drafted").asLong(), accepted = s.get("accepted").asLong();
            assertTrue(accepted <= drafted && drafted > 0, s.toString());
            assertEquals((double) accepted / drafted, s.get("acceptance_rate").asDouble(), 1e-12);
            assertTrue(s.get("target_passes").asInt() < 60, s.toString());
        }
    }

    @Test
    void textModePrintsTheStatistics() {
        Cli r = Cli.run("run", "-m", TARGET, "--temp", "0", "-n", "20", "-t", "2", "--spec", "ngram", "Once upon a time");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("speculation: ") && r.err().contains("accepted"), r.err());
    }

    /** Greedy, a constrained run speculates and writes what it writes without speculation. */
    @Test
    void greedyConstrainedRunsSpeculate() throws Exception {
        String[] base = {"run", "-m", TARGET, "-n", "60", "--temp", "0", "--format", "json", "--regex", "[A-Za-z ,.!?'\\n-]*",
                "Tom had a red ball. He liked to play with it. Tom had a red ball. He liked"};
        Cli plain = Cli.run(base);
        String[] spec = Arrays.copyOf(base, base.length + 2);
        spec[base.length] = "--spec";
        spec[base.length + 1] = "ngram";
        Cli speculated = Cli.run(spec);
        assertEquals(0, plain.exitCode(), plain.err());
        assertEquals(0, speculated.exitCode(), speculated.err());
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(plain.out()), b = json.readTree(speculated.out());
        assertEquals(a.get("tokens"), b.get("tokens"));
        assertTrue(b.path("speculative").path("accepted").asInt() > 0, "guesses were made and kept: " + b);
    }

    @Test
    void badCombinationsAreOneLineErrors() {
        for (String[] args : new String[][]{
                {"--spec", "draft"},
                {"--spec", "ngram", "--draft-model", DRAFT},
                {"--draft-model", DRAFT, "--draft-min", "5", "--draft-max", "2"},
                {"--json-object", "--json-schema", Fixtures.stories260K("stories260K-f32.gguf").toString()},
                {"--json-schema", "/nonexistent/schema.json"},
                {"--regex", "a", "--json-object"},
                {"--regex", "(?=a)b"},
                {"--draft-model", Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-llama-spm.gguf").toString()}}) {
            String[] full = new String[args.length + 5];
            full[0] = "run";
            full[1] = "-m";
            full[2] = TARGET;
            full[3] = "-n";
            full[4] = "4";
            System.arraycopy(args, 0, full, 5, args.length);
            Cli r = Cli.run(full);
            assertTrue(r.exitCode() != 0, String.join(" ", args) + " was accepted");
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }
}
