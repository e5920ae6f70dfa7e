// FieldVault for Android: the AAR (`:fieldvault`) and the Compose sample (`:sample`).
// Build with scripts/build-android (it produces the native libraries and the
// generated Kotlin bindings first); see README.md for the toolchain.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "fieldvault-android"
include(":fieldvault", ":sample")
