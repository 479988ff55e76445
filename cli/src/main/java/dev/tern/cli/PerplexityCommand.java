package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.Perplexity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tern perplexity}: llama-perplexity's measure on a text file. */
@Command(name = "perplexity", description = "Perplexity of the model on a text file, computed as llama.cpp's llama-perplexity does.")
final class PerplexityCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-f", "--file"}, required = true, description = "Text file")
    Path file;

    @Override
    public Integer call() {
        String text = TextFiles.readAsPrompt(file);
        try (Tern tern = modelOptions.load()) {
            int ctx = modelOptions.chunkSize(tern);
            int[] tokens = tern.tokenizer().encode(text, true, false);
            if (tokens.length < 2 * ctx && tokens.length < ctx) {
                throw new TernException(file + ": " + tokens.length + " tokens is less than one chunk of " + ctx);
            }
            long t0 = System.nanoTime();
            double ppl = Perplexity.perplexity(tern.model(), tern.engine().workers(), tokens, ctx);
            spec.commandLine().getErr().printf("%d tokens, %d chunks of %d, %.1f s%n", tokens.length, tokens.length / ctx, ctx, (System.nanoTime() - t0) / 1e9);
            spec.commandLine().getOut().printf("perplexity: %.4f%n", ppl);
        }
        return 0;
    }
}
