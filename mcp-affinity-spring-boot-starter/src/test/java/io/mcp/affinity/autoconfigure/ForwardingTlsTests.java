package io.mcp.affinity.autoconfigure;

import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.ssl.DefaultSslBundleRegistry;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslStoreBundle;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The forwarding TLS following its bundle through Spring Boot's registry, as the file watcher of a
 * {@code reload-on-update} bundle updates it (the forwarding suites watch real files on both stacks).
 */
@ExtendWith(OutputCaptureExtension.class)
class ForwardingTlsTests {

	// Made from a bundle: its protocol, refusing one named "unusable" as a context that cannot be built.
	private static final Function<SslBundle, String> MAKE = (bundle) -> {
		if (bundle.getProtocol().equals("unusable")) {
			throw new IllegalArgumentException("no such protocol: unusable");
		}
		return bundle.getProtocol();
	};

	private final DefaultSslBundleRegistry registry = new DefaultSslBundleRegistry("instances", bundle("TLSv1.2"));

	@Test
	void isMadeFromTheBundleAsItIsAtStartUp() {
		ForwardingTls<String> tls = ForwardingTls.follow(this.registry, "instances",
				this.registry.getBundle("instances"), MAKE);

		assertThat(tls.get()).isEqualTo("TLSv1.2");
	}

	@Test
	void isMadeAgainFromEachUpdateOfTheBundle(CapturedOutput output) {
		ForwardingTls<String> tls = ForwardingTls.follow(this.registry, "instances",
				this.registry.getBundle("instances"), MAKE);

		this.registry.updateBundle("instances", bundle("TLSv1.3"));

		assertThat(tls.get()).isEqualTo("TLSv1.3");
		assertThat(output).contains("ForwardingSslBundleUpdated bundle=instances");
	}

	@Test
	void anUpdateThatCannotBeUsedLeavesThePreviousVersionAndSaysWhy(CapturedOutput output) {
		ForwardingTls<String> tls = ForwardingTls.follow(this.registry, "instances",
				this.registry.getBundle("instances"), MAKE);

		this.registry.updateBundle("instances", bundle("unusable"));

		assertThat(tls.get()).isEqualTo("TLSv1.2");
		assertThat(output).contains("ForwardingSslBundleUpdateFailed bundle=instances")
			.contains("no such protocol: unusable");
	}

	@Test
	void anotherBundlesUpdateChangesNothing() {
		this.registry.registerBundle("other", bundle("TLSv1.2"));
		ForwardingTls<String> tls = ForwardingTls.follow(this.registry, "instances",
				this.registry.getBundle("instances"), MAKE);

		this.registry.updateBundle("other", bundle("TLSv1.3"));

		assertThat(tls.get()).isEqualTo("TLSv1.2");
	}

	private static SslBundle bundle(String protocol) {
		return SslBundle.of(SslStoreBundle.NONE, null, null, protocol);
	}

}
