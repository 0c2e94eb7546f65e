# The module as each PowerShell edition loads it: the manifest picks the build for the edition.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
}

Describe 'Importing the module' {
    It 'loads the net8.0 build of the cmdlets and the engine in PowerShell 7' -Skip:($PSEdition -ne 'Core') {
        $cmdlets = (Get-Command Get-DfMigration).ImplementingType.Assembly
        $engine = [DragonflowUpgrade.Engine.Json.NbJson].Assembly
        foreach ($assembly in $cmdlets, $engine) {
            $assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false).FrameworkName |
                Should -Be '.NETCoreApp,Version=v8.0'
            $assembly.Location | Should -BeLike "*bin?net8.0?DragonflowUpgrade.*.dll"
        }
    }

    It 'ships a netstandard2.0 build beside it for Windows PowerShell 5.1' {
        $manifest = Test-ModuleManifest "$PSScriptRoot/../../DragonflowUpgrade.psd1"
        $manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
        $desktop = "$PSScriptRoot/../../bin/netstandard2.0/DragonflowUpgrade.PowerShell.dll"
        Test-Path $desktop | Should -BeTrue
        [Reflection.AssemblyName]::GetAssemblyName((Resolve-Path $desktop)).Name | Should -Be 'DragonflowUpgrade.PowerShell'
    }
}
