package io.mcp.affinity.sample;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.context.config.ConfigDataEnvironmentPostProcessor;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.util.StringUtils;

/**
 * One jar, two stacks: the sample carries Spring AI's MCP server for WebFlux and for Web MVC, and runs on the one
 * {@code spring.main.web-application-type} names (application.properties says {@code reactive}; pass
 * {@code --spring.main.web-application-type=servlet} for Web MVC on Tomcat). Spring AI configures its
 * transports whatever the stack, so the other stack's are excluded here; a real application has one of them only.
 */
public final class SampleStackEnvironmentPostProcessor implements EnvironmentPostProcessor, Ordered {

	private static final String WEB_APPLICATION_TYPE = "spring.main.web-application-type";

	private static final String EXCLUDE = "spring.autoconfigure.exclude";

	private static final String WEBFLUX = "org.springframework.ai.mcp.server.webflux.autoconfigure.";

	private static final String WEBMVC = "org.springframework.ai.mcp.server.webmvc.autoconfigure.";

	@Override
	public int getOrder() {
		// After the application's configuration is loaded: it names the stack.
		return ConfigDataEnvironmentPostProcessor.ORDER + 2;
	}

	@Override
	public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
		WebApplicationType type = environment.getProperty(WEB_APPLICATION_TYPE, WebApplicationType.class,
				WebApplicationType.REACTIVE);
		String other = (type == WebApplicationType.SERVLET) ? WEBFLUX + "McpServer%sWebFluxAutoConfiguration"
				: WEBMVC + "McpServer%sWebMvcAutoConfiguration";
		Set<String> excluded = new LinkedHashSet<>(
				StringUtils.commaDelimitedListToSet(environment.getProperty(EXCLUDE, "")));
		for (String transport : new String[] { "StreamableHttp", "Sse", "Stateless" }) {
			excluded.add(other.formatted(transport));
		}
		excluded.remove("");
		environment.getPropertySources()
			.addFirst(new MapPropertySource("sampleStack", Map.of(EXCLUDE, String.join(",", excluded))));
	}

}
