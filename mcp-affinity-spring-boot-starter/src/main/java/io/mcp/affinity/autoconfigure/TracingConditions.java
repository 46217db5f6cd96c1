package io.mcp.affinity.autoconfigure;

import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.ConfigurationCondition;
import org.springframework.core.type.AnnotatedTypeMetadata;
import org.springframework.util.ClassUtils;

/**
 * Whether requests are traced: a Micrometer {@code Tracer} bean is there, other than the no-op one Spring Boot
 * registers when micrometer-tracing is on the class path without a bridge ({@code NoopTracerAutoConfiguration}). With
 * that one alone nothing is recorded, so forwards are made where they cost least, as with no tracer at all.
 */
final class TracingConditions {

	private static final String TRACER_CLASS = "io.micrometer.tracing.Tracer";

	private static final String NOOP_TRACER_CONFIGURATION = "org.springframework.boot.micrometer.tracing.autoconfigure.NoopTracerAutoConfiguration";

	private TracingConditions() {
	}

	/**
	 * Whether a tracer that records spans is defined, judged from the bean definitions (nothing is created).
	 * @param beanFactory the bean factory
	 * @return whether requests are traced
	 */
	static boolean traced(ConfigurableListableBeanFactory beanFactory) {
		ClassLoader classLoader = beanFactory.getBeanClassLoader();
		if (!ClassUtils.isPresent(TRACER_CLASS, classLoader)) {
			return false;
		}
		Class<?> tracer = ClassUtils.resolveClassName(TRACER_CLASS, classLoader);
		for (String name : beanFactory.getBeanNamesForType(tracer, true, false)) {
			if (!NOOP_TRACER_CONFIGURATION.equals(declaringClassName(beanFactory, name))) {
				return true;
			}
		}
		return false;
	}

	// The class of the configuration whose @Bean method defines the bean, if it is defined that way.
	private static @Nullable String declaringClassName(ConfigurableListableBeanFactory beanFactory, String name) {
		try {
			String factoryBean = beanFactory.getMergedBeanDefinition(name).getFactoryBeanName();
			if (factoryBean == null) {
				return null;
			}
			BeanDefinition factory = beanFactory.getMergedBeanDefinition(factoryBean);
			return factory.getBeanClassName();
		}
		catch (NoSuchBeanDefinitionException ex) {
			// A singleton registered as an instance: the application's own.
			return null;
		}
	}

	private abstract static class TracingCondition extends SpringBootCondition implements ConfigurationCondition {

		private final boolean whenTraced;

		TracingCondition(boolean whenTraced) {
			this.whenTraced = whenTraced;
		}

		@Override
		public ConfigurationPhase getConfigurationPhase() {
			return ConfigurationPhase.REGISTER_BEAN;
		}

		@Override
		public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
			ConfigurableListableBeanFactory beanFactory = context.getBeanFactory();
			boolean traced = (beanFactory != null) && traced(beanFactory);
			String found = traced ? "a tracer" : "no tracer, or only the no-op one";
			return (traced == this.whenTraced) ? ConditionOutcome.match("found " + found)
					: ConditionOutcome.noMatch("found " + found);
		}

	}

	/** Matches when requests are traced. */
	static final class Traced extends TracingCondition {

		Traced() {
			super(true);
		}

	}

	/** Matches when nothing traces requests. */
	static final class NotTraced extends TracingCondition {

		NotTraced() {
			super(false);
		}

	}

}
