package dev.tern.cli;

import dev.tern.gguf.GGUFFile;
import dev.tern.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/** {@code tern tokenize}: text to token ids, from any GGUF with a vocabulary (weights not needed). */
@Command(name = "tokenize", description = "Print the token ids of TEXT, space-separated, on one line.")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, description = "GGUF model or vocab-only GGUF (default: stories260K)")
    Path model;

    @Option(names = "--tokenizer", description = "A Hugging Face tokenizer.json instead of a GGUF vocabulary")
    Path tokenizerJson;

    @Option(names = "--bos", description = "Add BOS/EOS as the vocabulary asks")
    boolean bos;

    @Option(names = "--parse-special", description = "Text that spells a special token becomes that token")
    boolean parseSpecial;

    @Parameters(index = "0", description = "The text")
    String text;

    @Override
    public Integer call() {
        Tokenizer tokenizer;
        if (tokenizerJson != null) {
            tokenizer = Tokenizer.fromTokenizerJson(tokenizerJson);
        } else {
            try (GGUFFile f = GGUFFile.open(ModelLocator.resolve(model))) {
                tokenizer = Tokenizer.fromGGUF(f);
            }
        }
        StringJoiner out = new StringJoiner(" ");
        for (int id : tokenizer.encode(text, bos, parseSpecial)) {
            out.add(Integer.toString(id));
        }
        spec.commandLine().getOut().println(out);
        return 0;
    }
}
