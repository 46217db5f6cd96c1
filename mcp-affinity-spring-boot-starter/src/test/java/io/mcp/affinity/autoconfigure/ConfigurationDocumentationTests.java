package io.mcp.affinity.autoconfigure;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** docs/configuration.md names every property in the generated configuration metadata, and no other. */
class ConfigurationDocumentationTests {

	private static final Pattern DOCUMENTED = Pattern.compile("^\\| `((?:mcp\\.affinity|management\\.endpoint\\.mcpaffinity)\\.[a-z0-9.-]+)` \\|",
			Pattern.MULTILINE);

	@Test
	void everyPropertyIsDocumentedAndEveryDocumentedPropertyExists() throws IOException {
		JsonNode metadata = JsonMapper.shared()
			.readTree(Files.readString(Path.of("target", "classes", "META-INF", "spring-configuration-metadata.json")));
		List<String> properties = new ArrayList<>();
		metadata.get("properties").forEach((property) -> properties.add(property.get("name").asString()));
		List<String> documented = matches(DOCUMENTED, Files.readString(Path.of("..", "docs", "configuration.md")));
		assertThat(properties).isNotEmpty();
		assertThat(documented).containsExactlyInAnyOrderElementsOf(properties);
	}

	private static List<String> matches(Pattern pattern, String text) {
		List<String> found = new ArrayList<>();
		Matcher matcher = pattern.matcher(text);
		while (matcher.find()) {
			if (!found.contains(matcher.group(1))) {
				found.add(matcher.group(1));
			}
		}
		return found;
	}

}
