package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.image.ImageBuilder;
import dev.vmlet.spec.BuiltInImage;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The images `vmlet image build/list` know and the images a VM spec boots by name are the same. */
class ImageCommandTest {
  @Test
  void everyBuiltInImage_hasARecipe_andEveryRecipeButTheAgentBundleIsABuiltInImage() {
    assertThat(ImageCommand.RECIPES.stream().map(ImageBuilder.Recipe::name).filter(n -> !n.equals("agent-bundle")))
        .containsExactlyInAnyOrderElementsOf(Arrays.stream(BuiltInImage.values()).map(BuiltInImage::imageName).toList());
    assertThat(ImageCommand.recipe("micro-generic").scripts()).containsExactly("build-micro-generic.sh", "build-micro.sh",
        "build-agent-runtime.sh");
  }
}
