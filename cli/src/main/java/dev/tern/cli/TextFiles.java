package dev.tern.cli;

import dev.tern.TernException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Text files named on the command line (prompts, templates, schemas), read whole as UTF-8. */
final class TextFiles {
    private TextFiles() {
    }

    /** The file's text; a missing or unreadable file is a one-line error naming it. */
    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new TernException(file + ": no such file");
        } catch (IOException e) {
            throw new TernException(file + ": cannot read (" + e + ")");
        }
    }

    /** The file's text without one final newline, as llama.cpp's {@code -f} reads a prompt file. */
    static String readAsPrompt(Path file) {
        String text = read(file);
        return text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
    }
}
