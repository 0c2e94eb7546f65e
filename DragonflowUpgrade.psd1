@{
    # PowerShell 7 (Core) loads the net8.0 build, Windows PowerShell 5.1 (Desktop) the netstandard2.0 one.
    RootModule           = if ($PSEdition -eq 'Core') { 'bin/net8.0/DragonflowUpgrade.PowerShell.dll' } else { 'bin/netstandard2.0/DragonflowUpgrade.PowerShell.dll' }
    ModuleVersion        = '0.1.0'
    GUID                 = '5d0c6f8e-6a59-4c36-9f0e-2b8e6c1d7a41'
    Author               = 'DragonflowUpgrade developers'
    Description          = 'Upgrades a deployed Dragonflow cloud: migrates its north-bound database between releases and stops and starts its control plane, without losing a deployed resource.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('module/DragonflowUpgrade.Format.ps1xml', 'module/DragonflowUpgrade.Remote.Format.ps1xml', 'module/DragonflowUpgrade.Safety.Format.ps1xml', 'module/DragonflowUpgrade.Configuration.Format.ps1xml', 'module/DragonflowUpgrade.Upgrade.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-DfMigration', 'Invoke-DfMigration', 'Get-DfMigrationLog', 'Set-DfMigrationBaseline', 'New-DfMigration',
        'Get-DfNbObject', 'Get-DfNbTable', 'Get-DfSchema', 'Compare-DfSchema', 'Test-DfSchemaChange',
        'Get-DfNbDatabaseLock', 'Lock-DfNbDatabase', 'Unlock-DfNbDatabase', 'Backup-DfNbDatabase', 'Restore-DfNbDatabase', 'Resume-DfMigration', 'Undo-DfMigration',
        'Get-DfNode', 'Invoke-DfNodeCommand', 'Get-DfServiceStatus', 'Stop-DfControlPlane', 'Start-DfControlPlane',
        'Backup-DfNeutronDatabase', 'Restore-DfNeutronDatabase', 'Invoke-DfNeutronMigration',
        'Test-DfConfiguration', 'Update-DfConfiguration', 'Restore-DfConfiguration',
        'Test-DfUpgradeReadiness', 'Invoke-DfUpgrade', 'Undo-DfUpgrade'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @('Get-DfUpgradeLock')
    VariablesToExport    = @()
    PrivateData          = @{ PSData = @{ Tags = @('Dragonflow', 'OpenStack', 'Neutron', 'SDN', 'Upgrade', 'Migration') } }
}
