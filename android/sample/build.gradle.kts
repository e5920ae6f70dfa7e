// Compose sample: three screens (tax-help form, bear sighting with a camera
// photo, damage report) and a sync-status bar, on the :fieldvault AAR.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("org.jetbrains.kotlin.plugin.compose")
}

android {
    namespace = "jp.fieldvault.sample"
    compileSdk = 35

    defaultConfig {
        applicationId = "jp.fieldvault.sample"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        // The ABIs libfieldvault_ffi.so is built for: without this, JNA's AAR would also put an
        // x86 libjnidispatch.so in the APK, on whose devices the library itself is missing.
        ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
        // Relay of the demo workspace; set with -PrelayUrl=https://... at build time.
        buildConfigField("String", "RELAY_URL", "\"${project.findProperty("relayUrl") ?: "https://relay.example.invalid"}\"")
    }
    buildFeatures {
        compose = true
        buildConfig = true
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    implementation(project(":fieldvault"))
    implementation(platform("androidx.compose:compose-bom:2024.12.01"))
    implementation("androidx.compose.material3:material3")
    implementation("androidx.compose.material:material-icons-core")
    implementation("androidx.compose.ui:ui")
    implementation("androidx.compose.ui:ui-tooling-preview")
    implementation("androidx.activity:activity-compose:1.9.3")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
    implementation("androidx.lifecycle:lifecycle-viewmodel-compose:2.8.7")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
}
