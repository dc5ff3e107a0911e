package dev.bulwark.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which `run` the arguments mean: runc's (bundle + ID) or the image form. */
class RunDispatchTest {
    @Test
    void runcFlagsMeanTheOciForm() {
        assertFalse(ImageRunCommand.isImageForm(List.of("--bundle", "/b", "id")));
        assertFalse(ImageRunCommand.isImageForm(List.of("-b", "/b", "id")));
        assertFalse(ImageRunCommand.isImageForm(List.of("--detach", "id")));
        assertFalse(ImageRunCommand.isImageForm(List.of("--pid-file=/p", "--bundle=/b", "id")));
        assertFalse(ImageRunCommand.isImageForm(List.of("--no-pivot", "id")));
        assertFalse(ImageRunCommand.isImageForm(List.of("--unknown-flag", "id")), "unknown flags go to runc's parser, which names them");
    }

    @Test
    void imageFlagsOrACommandMeanTheImageForm() {
        assertTrue(ImageRunCommand.isImageForm(List.of("--rm", "busybox")));
        assertTrue(ImageRunCommand.isImageForm(List.of("-it", "busybox", "sh")));
        assertTrue(ImageRunCommand.isImageForm(List.of("-e", "A=1", "-v", "/a:/b", "busybox")));
        assertTrue(ImageRunCommand.isImageForm(List.of("busybox", "echo", "hi")));
        assertTrue(ImageRunCommand.isImageForm(List.of()));
    }

    @Test
    void oneArgumentDependsOnConfigJsonHere() {
        // Maven runs tests in the project directory, which has no config.json: the image form.
        assertFalse(Files.exists(Path.of("config.json")));
        assertTrue(ImageRunCommand.isImageForm(List.of("busybox")));
    }
}
