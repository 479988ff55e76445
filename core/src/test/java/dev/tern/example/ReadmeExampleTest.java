package dev.tern.example;

import dev.tern.Completion;
import dev.tern.GenerateOptions;
import dev.tern.Tern;
import dev.tern.chat.ChatMessage;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The library examples of README.md, kept compiling and running. */
class ReadmeExampleTest {

    @Test
    void readmeCompletionExampleRuns() {
        Path modelPath = Fixtures.stories260K("stories260K-f32.gguf");
        StringBuilder streamed = new StringBuilder();
        // --- README completion example start
        try (Tern tern = Tern.load(modelPath)) {
            Completion story = tern.complete("Once upon a time", GenerateOptions.greedy(50), streamed::append);
            Completion reply = tern.chat(List.of(new ChatMessage("user", "Tell me about a cat.")), GenerateOptions.sampled(100), null);
            System.out.println(story.text() + "\n" + reply.text());
        }
        // --- README completion example end
        assertTrue(streamed.toString().startsWith(", there was a little girl named Lily."), streamed.toString());
    }

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
