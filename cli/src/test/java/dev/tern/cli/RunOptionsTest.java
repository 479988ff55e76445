package dev.tern.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code tern run}'s llama.cpp-style flags — {@code -p}, escapes, {@code --stop}, {@code -l}, {@code --ignore-eos} —
 * against llama.cpp's greedy decode of stories260K after "Once upon a time" (its ids, top-5 logits per step and text).
 */
class RunOptionsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path MODEL = Fixtures.stories260K("stories260K-f32.gguf");
    private static final Path REFERENCE = Fixtures.stories260K("reference/once.f32.txt");

    private static JsonNode run(String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("run", "-m", MODEL.toString(), "--temp", "0", "-t", "1", "--format", "json"));
        all.addAll(List.of(args));
        Cli r = Cli.run(all.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        return JSON.readTree(r.out());
    }

    private static int[] ints(JsonNode array) {
        int[] r = new int[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = array.get(i).asInt();
        }
        return r;
    }

    private static String referenceText() throws Exception {
        return Files.readAllLines(REFERENCE).stream().filter(l -> l.startsWith("text ")).findFirst().orElseThrow().substring(5);
    }

    @Test
    void promptOptionAndEscapesAsLlamaCpp(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("p.txt"), "Tom said:\n\"Hi\"\tand left");
        int[] fromFile = ints(run("-n", "0", "-f", file.toString()).get("prompt_tokens"));
        assertArrayEquals(fromFile, ints(run("-n", "0", "-p", "Tom said:\\n\\\"Hi\\\"\\tand left").get("prompt_tokens")));
        assertArrayEquals(fromFile, ints(run("-n", "0", "Tom said:\\n\\\"Hi\\\"\\tand left").get("prompt_tokens")));
        Path literal = Files.writeString(dir.resolve("q.txt"), "Tom said:\\n");
        int[] typed = ints(run("-n", "0", "--no-escape", "Tom said:\\n").get("prompt_tokens"));
        assertArrayEquals(ints(run("-n", "0", "-f", literal.toString()).get("prompt_tokens")), typed);
        try (GGUFFile f = GGUFFile.open(MODEL)) {
            assertEquals("Tom said:\\n", Tokenizer.fromGGUF(f).decode(Arrays.copyOfRange(typed, 1, typed.length)));
        }
        Cli both = Cli.run("run", "-m", MODEL.toString(), "-p", "a", "b");
        assertEquals(1, both.exitCode());
        assertEquals(1, both.err().strip().lines().count(), both.err());
    }

    @Test
    void stopStringsCutTheText() throws Exception {
        String reference = referenceText();
        JsonNode j = run("-n", "100", "--stop", "zebra", "--stop", " named", "Once upon a time");
        assertEquals(reference.substring(0, reference.indexOf(" named")), j.get("text").asText());
        assertEquals("stop_string", j.get("stop_reason").asText());
        // "\n" as typed is a newline, as the prompt's escapes are: the text ends at the first line break.
        JsonNode line = run("-n", "100", "--stop", "\\n", "Once upon a time");
        assertEquals(reference.strip(), line.get("text").asText());
        Cli text = Cli.run("run", "-m", MODEL.toString(), "--temp", "0", "-t", "1", "-n", "100", "--stop", " named", "Once upon a time");
        assertEquals(0, text.exitCode(), text.err());
        assertEquals(j.get("text").asText(), text.out().stripTrailing());
        JsonNode spec = run("-n", "100", "--stop", " named", "--spec", "ngram", "Once upon a time");
        assertEquals(j.get("text").asText(), spec.get("text").asText());
        assertArrayEquals(ints(j.get("tokens")), ints(spec.get("tokens")));
    }

    @Test
    void logitBiasBansAndForcesTokens() throws Exception {
        Reference ref = Reference.read(REFERENCE);
        int top = ref.topIds().get(0)[0], second = ref.topIds().get(0)[1];
        assertTrue(ref.topLogits().get(0)[1] - ref.topLogits().get(0)[2] > 0.1f, "no near tie behind the second");
        JsonNode banned = run("-n", "1", "-l", top + "-inf", "Once upon a time");
        assertArrayEquals(new int[]{second}, ints(banned.get("tokens")));
        JsonNode lowered = run("-n", "1", "-l", top + "-" + (ref.topLogits().get(0)[0] - ref.topLogits().get(0)[1] + 0.5f),
                "Once upon a time");
        assertArrayEquals(new int[]{second}, ints(lowered.get("tokens")));
        JsonNode raised = run("-n", "1", "-l", ref.topIds().get(0)[4] + "+100", "Once upon a time");
        assertArrayEquals(new int[]{ref.topIds().get(0)[4]}, ints(raised.get("tokens")));
    }

    @Test
    void ignoreEosOverridesAForcedEndOfGeneration() throws Exception {
        JsonNode ended = run("-n", "20", "-l", "2+100", "Once upon a time");
        assertEquals(0, ended.get("tokens").size());
        assertEquals("end_of_generation", ended.get("stop_reason").asText());
        JsonNode ignored = run("-n", "20", "-l", "2+100", "--ignore-eos", "Once upon a time");
        assertEquals("max_tokens", ignored.get("stop_reason").asText());
        assertArrayEquals(Arrays.copyOf(Reference.read(REFERENCE).ids(), 20), ints(ignored.get("tokens")));
    }

    /** llama.cpp's -j takes the schema itself, -jf a file; a --json-schema that is not an object still names a file. */
    @Test
    void jsonSchemaInlineOrFromAFile(@TempDir Path dir) throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}}, \"required\": [\"name\"]}";
        Path file = Files.writeString(dir.resolve("s.json"), schema);
        String[] sampled = {"-n", "60", "-no-cnv"};
        JsonNode inline = run(concat(sampled, "-j", schema, "Once upon a time"));
        JsonNode fromFile = run(concat(sampled, "-jf", file.toString(), "Once upon a time"));
        JsonNode byPath = run(concat(sampled, "--json-schema", file.toString(), "Once upon a time"));
        JsonNode value = JSON.readTree(inline.get("text").asText());
        assertTrue(value.get("name").isTextual(), inline.get("text").asText());
        assertEquals(inline.get("text"), fromFile.get("text"));
        assertEquals(inline.get("text"), byPath.get("text"));
        Cli both = Cli.run("run", "-m", MODEL.toString(), "-j", schema, "-jf", file.toString(), "x");
        assertEquals(1, both.exitCode());
        assertTrue(both.err().contains("give one of"), both.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void badLogitBiasIsOneLine() {
        for (String bad : new String[]{"5x", "99999+1", "5+inf", "5-abc"}) {
            Cli r = Cli.run("run", "-m", MODEL.toString(), "-l", bad, "hi");
            assertEquals(1, r.exitCode(), bad);
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains("--logit-bias"), r.err());
        }
    }

    /**
     * --context-shift: in a 64-position context the generation goes past it; until the context first fills the
     * tokens are llama.cpp's, and the prompt cache then keeps the prompt the shift left in place (--keep -1).
     */
    @Test
    void contextShiftGoesOnPastAFullContext(@TempDir Path dir) throws Exception {
        int[] reference = Reference.read(REFERENCE).ids();
        JsonNode full = run("-c", "64", "-n", "150", "--ignore-eos", "Once upon a time");
        assertEquals("context_full", full.get("stop_reason").asText());
        int before = full.get("tokens").size();
        assertEquals(64 - 5 + 1, before);
        Path cache = dir.resolve("prompt.cache");
        JsonNode shifted = run("-c", "64", "-n", "150", "--ignore-eos", "--context-shift", "--keep", "-1",
                "--prompt-cache", cache.toString(), "Once upon a time");
        assertEquals("max_tokens", shifted.get("stop_reason").asText());
        assertEquals(150, shifted.get("tokens").size());
        assertArrayEquals(Arrays.copyOf(reference, before), Arrays.copyOf(ints(shifted.get("tokens")), before));
        JsonNode again = run("-c", "64", "-n", "4", "--prompt-cache", cache.toString(), "Once upon a time");
        assertEquals(4, again.get("timings").get("cache_n").asInt(), again.toString());
        Cli bad = Cli.run("run", "-m", MODEL.toString(), "--context-shift", "--keep", "-2", "hi");
        assertEquals(1, bad.exitCode());
        assertEquals("tern: --keep must be -1 (the whole prompt) or more, got -2", bad.err().strip());
    }
}
