package dev.tern.example;

import dev.tern.Tern;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The library example of README.md, kept compiling and running. */
class ReadmeExampleTest {

    @Test
    void readmeExampleRuns() {
        Path modelPath = Fixtures.stories260K("stories260K-f32.gguf");
        StringBuilder streamed = new StringBuilder();
        // --- README example start
        try (Tern tern = Tern.load(modelPath);
             Session session = tern.newSession()) {
            int[] prompt = tern.tokenizer().encode("Once upon a time", true, false);
            Sampler sampler = new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize());
            GenerationResult result = Generator.generate(session, tern.tokenizer(), prompt, sampler, 50,
                    (token, text) -> { streamed.append(text); return true; });
            System.out.println(result.text() + " (" + result.timings().predictedPerSecond() + " tokens/s)");
        }
        // --- README example end
        assertTrue(streamed.toString().startsWith(", there was a little girl named Lily."), streamed.toString());
    }
}
