package io.mcp.affinity.autoconfigure;

import java.util.Set;
import java.util.function.Function;

import org.springframework.beans.factory.config.BeanPostProcessor;

/**
 * Applies session affinity to the router beans Spring AI's MCP server starter registers, found by bean name; each
 * stack's auto-configuration names its own routers and its own filter.
 *
 * @param <R> the router type of the stack
 */
final class McpRouterPostProcessor<R> implements BeanPostProcessor {

	private final Set<String> beanNames;

	private final Class<R> routerType;

	private final Function<R, ?> applySessionAffinity;

	McpRouterPostProcessor(Set<String> beanNames, Class<R> routerType, Function<R, ?> applySessionAffinity) {
		this.beanNames = beanNames;
		this.routerType = routerType;
		this.applySessionAffinity = applySessionAffinity;
	}

	@Override
	public Object postProcessAfterInitialization(Object bean, String beanName) {
		if (this.routerType.isInstance(bean) && this.beanNames.contains(beanName)) {
			return this.applySessionAffinity.apply(this.routerType.cast(bean));
		}
		return bean;
	}

}
