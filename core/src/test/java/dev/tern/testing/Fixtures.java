package dev.tern.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the read-only fixtures in ../shared beside the project root. The TERN_SHARED
 * environment variable overrides the location; the build passes the default as the
 * tern.shared system property.
 */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path shared() {
        String env = System.getenv("TERN_SHARED");
        String prop = System.getProperty("tern.shared");
        Path p = Path.of(env != null && !env.isBlank() ? env : prop != null ? prop : "../shared").toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("models"))) {
            throw new IllegalStateException("fixtures not found at " + p + " (set TERN_SHARED to the shared/ directory)");
        }
        return p;
    }

    public static Path models() {
        return shared().resolve("models");
    }

    public static Path stories260K(String file) {
        return models().resolve("stories260K").resolve(file);
    }

    public static Path stories15M(String file) {
        return models().resolve("stories15M-distilled").resolve(file);
    }

    public static Path tokenizers() {
        return shared().resolve("tokenizers");
    }
}
