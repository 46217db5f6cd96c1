package io.mcp.affinity.autoconfigure;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.context.config.ConfigDataEnvironmentPostProcessor;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.util.StringUtils;

/**
 * Keeps the Spring Cloud Gateway server of the stack the application does not run on out of its way. The starter
 * carries the gateway server machinery of both stacks (without either stack itself), so that one artifact serves
 * both; the other stack's gateway auto-configurations are excluded:
 * <ul>
 * <li>On a servlet application, the WebFlux gateway's (it would fail start-up with
 * {@code MvcFoundOnClasspathException}).</li>
 * <li>On a reactive application, the Web MVC gateway's; and its defaults, which would stop the application's own
 * HTTP clients following redirects, give way to Boot's ({@code spring.http.clients.redirects},
 * {@code spring.servlet.multipart.enabled}).</li>
 * </ul>
 * The application's own configuration wins over every default here; exclusions are added to its own.
 */
public final class GatewayStackEnvironmentPostProcessor implements EnvironmentPostProcessor, Ordered {

	static final String PROPERTY_SOURCE_NAME = "mcpAffinityGatewayStack";

	private static final String EXCLUDE = "spring.autoconfigure.exclude";

	private static final String GATEWAY = "org.springframework.cloud.gateway.";

	private static final String WEBMVC_GATEWAY = GATEWAY + "server.mvc.";

	@Override
	public int getOrder() {
		// After the application's configuration is loaded (it may name the web application type), and before the
		// Web MVC gateway's own post-processors, which only set what is not set yet.
		return ConfigDataEnvironmentPostProcessor.ORDER + 1;
	}

	@Override
	public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
		WebApplicationType type = environment.getProperty("spring.main.web-application-type", WebApplicationType.class,
				application.getWebApplicationType());
		Predicate<String> otherStack;
		Map<String, Object> defaults = new LinkedHashMap<>();
		if (type == WebApplicationType.SERVLET) {
			otherStack = (name) -> name.startsWith(GATEWAY) && !name.startsWith(WEBMVC_GATEWAY);
		}
		else if (type == WebApplicationType.REACTIVE) {
			otherStack = (name) -> name.startsWith(WEBMVC_GATEWAY);
			defaults.put("spring.http.clients.redirects", "follow-when-possible");
			defaults.put("spring.servlet.multipart.enabled", "true");
		}
		else {
			return;
		}
		Set<String> excluded = new LinkedHashSet<>(
				StringUtils.commaDelimitedListToSet(environment.getProperty(EXCLUDE, "")));
		for (String candidate : ImportCandidates.load(AutoConfiguration.class, application.getClassLoader())) {
			if (otherStack.test(candidate)) {
				excluded.add(candidate);
			}
		}
		excluded.remove("");
		environment.getPropertySources()
			.addFirst(new MapPropertySource(PROPERTY_SOURCE_NAME,
					Map.of(EXCLUDE, StringUtils.collectionToCommaDelimitedString(excluded))));
		if (!defaults.isEmpty()) {
			environment.getPropertySources().addLast(new MapPropertySource(PROPERTY_SOURCE_NAME + "Defaults", defaults));
		}
	}

}
