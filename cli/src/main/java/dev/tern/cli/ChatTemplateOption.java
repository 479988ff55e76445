package dev.tern.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --chat-template-file}: a Jinja2 chat template in place of the model's, as llama.cpp and vLLM take one. */
final class ChatTemplateOption {
    @Option(names = "--chat-template-file", paramLabel = "FILE",
            description = "Jinja2 chat template to use instead of the one in the model's metadata")
    Path file;

    /** The template's text, or null when none was given. */
    String read() {
        return file == null ? null : TextFiles.read(file);
    }
}
