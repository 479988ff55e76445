package dev.tern.engine;

import dev.tern.gguf.GGUFFile;
import dev.tern.model.Model;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.spec.AdaptiveDraftLength;
import dev.tern.spec.NgramProposer;
import dev.tern.spec.SpeculativeGenerator;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stop strings in the single-sequence generators (what `tern run --stop` uses), against llama.cpp's greedy
 * text of stories260K after "Once upon a time": the text ends right before the first stop string, the
 * listener receives exactly that text, and prompt-lookup speculation stops at the same token.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StopStringsTest {
    private static final int TOKENS = 60;
    private Model model;
    private Engine engine;
    private Tokenizer tokenizer;
    private int[] prompt;
    /** llama.cpp's greedy text: its first line, reached within the first {@value #TOKENS} tokens. */
    private String reference;

    @BeforeAll
    void load() throws IOException {
        Path file = Fixtures.stories260K("stories260K-f32.gguf");
        model = Model.load(file);
        engine = new Engine(model, 1);
        try (GGUFFile f = GGUFFile.open(file)) {
            tokenizer = Tokenizer.fromGGUF(f);
        }
        Path ref = Fixtures.stories260K("reference/once.f32.txt");
        prompt = ReferenceDecode.read(ref).promptIds();
        reference = Files.readAllLines(ref).stream().filter(l -> l.startsWith("text ")).findFirst().orElseThrow().substring(5);
    }

    @AfterAll
    void close() {
        engine.close();
        model.close();
    }

    private record Run(GenerationResult result, String streamed) {
    }

    private Run run(List<String> stop, boolean speculative) {
        StringBuilder streamed = new StringBuilder();
        Generator.Listener listener = (id, text) -> {
            streamed.append(text);
            return true;
        };
        try (Session s = engine.newSession(256)) {
            Sampler sampler = new Sampler(SamplerConfig.greedy(), tokenizer.vocabSize());
            GenerationResult r = speculative
                    ? SpeculativeGenerator.generate(s, tokenizer, prompt, sampler, new NgramProposer(3, 1), AdaptiveDraftLength.fixed(4),
                    TOKENS, stop, listener).generation()
                    : Generator.generate(s, tokenizer, prompt, sampler, TOKENS, stop, listener);
            return new Run(r, streamed.toString());
        }
    }

    /** One token (" Lily"), several tokens ("little girl"), inside a token ("ov" of "loved"), and the same with a second that never appears. */
    @ParameterizedTest
    @ValueSource(strings = {" Lily", "little girl", "ov", "park|zebra", "zebra|She loved"})
    void textEndsBeforeTheFirstStopString(String stops) {
        List<String> stop = List.of(stops.split("\\|"));
        int cut = stop.stream().mapToInt(reference::indexOf).filter(i -> i >= 0).min().orElseThrow();
        for (boolean speculative : new boolean[]{false, true}) {
            Run r = run(stop, speculative);
            assertEquals(reference.substring(0, cut), r.result().text(), "speculative " + speculative);
            assertEquals(r.result().text(), r.streamed(), "what the listener received");
            assertEquals(GenerationResult.StopReason.STOP_STRING, r.result().stopReason());
        }
        assertArrayEquals(run(stop, false).result().tokens(), run(stop, true).result().tokens(), "the tokens up to the stop");
    }

    /** A stop string that never appears, one whose start does ("Lilac", "park!"): everything held back is let out at the end. */
    @ParameterizedTest
    @ValueSource(strings = {"Lilac", "park!", "zebra"})
    void heldBackTextComesOutWhenNoStopStringAppears(String stop) {
        Run plain = run(List.of(), false);
        assertTrue(plain.result().text().startsWith(reference.strip()), plain.result().text());
        for (boolean speculative : new boolean[]{false, true}) {
            Run r = run(List.of(stop), speculative);
            assertEquals(plain.result().text(), r.result().text());
            assertEquals(plain.result().text(), r.streamed());
            assertArrayEquals(plain.result().tokens(), r.result().tokens());
            assertEquals(GenerationResult.StopReason.MAX_TOKENS, r.result().stopReason());
        }
    }
}
