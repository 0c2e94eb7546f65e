# Every exported cmdlet has help of its own, written in module/en-US: a synopsis, a
# description, worked examples and a description of every parameter; and the help agrees
# with the cmdlet (no parameter it lacks, the same parameter sets, positions, pipeline input
# and output types). A cmdlet or a parameter added without help fails here.
BeforeDiscovery {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    $cmdlets = @(Get-Command -Module DragonflowUpgrade -CommandType Cmdlet | Sort-Object Name | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    # -WhatIf and -Confirm are documented like the cmdlet's own parameters; the other common ones are not.
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $script:HelpFile = Join-Path $PSScriptRoot '../../module/en-US/DragonflowUpgrade.PowerShell.dll-Help.xml'
    $script:AboutFile = Join-Path $PSScriptRoot '../../module/en-US/about_DragonflowUpgrade.help.txt'

    function Get-Text($Paragraphs) { (@($Paragraphs) | Where-Object { $_ } | ForEach-Object Text) -join "`n" }

    # What the help should say of a parameter, from its [Parameter] attributes in every set.
    function Get-Expected($Parameter) {
        $sets = @($Parameter.ParameterSets.Values)
        $positions = @($sets | Where-Object Position -GE 0 | ForEach-Object Position | Select-Object -Unique)
        $byValue = [bool]($sets | Where-Object ValueFromPipeline)
        $byName = [bool]($sets | Where-Object ValueFromPipelineByPropertyName)
        [pscustomobject]@{
            Required = ([bool]($sets | Where-Object IsMandatory)).ToString().ToLowerInvariant()
            Position = if ($positions.Count) { [string]$positions[0] } else { 'named' }
            Pipeline = if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' } elseif ($byValue) { 'True (ByValue)' } elseif ($byName) { 'True (ByPropertyName)' } else { 'False' }
        }
    }
}

Describe 'The help file' {
    It 'is well-formed XML that documents each exported cmdlet once, and nothing else' {
        $xml = [xml](Get-Content $HelpFile -Raw)
        $ns = [System.Xml.XmlNamespaceManager]::new($xml.NameTable)
        $ns.AddNamespace('command', 'http://schemas.microsoft.com/maml/dev/command/2004/10')
        $documented = @($xml.SelectNodes('//command:command/command:details/command:name', $ns) | ForEach-Object { $_.InnerText.Trim() })
        $exported = @((Get-Command -Module DragonflowUpgrade -CommandType Cmdlet).Name)
        $documented | Group-Object | Where-Object Count -GT 1 | ForEach-Object Name | Should -BeNullOrEmpty
        $documented | Sort-Object | Should -Be ($exported | Sort-Object)
    }

    It 'is the one Get-Help reads' {
        (Get-Command Get-DfMigration).HelpFile | Split-Path -Leaf | Should -Be 'DragonflowUpgrade.PowerShell.dll-Help.xml'
        (Get-Help Get-DfMigration).description | Should -Not -BeNullOrEmpty
    }
}

Describe 'Help for <Name>' -ForEach $cmdlets {
    BeforeAll {
        $command = Get-Command $Name
        $help = Get-Help $Name -Full
        $parameters = @($command.Parameters.Values | Where-Object { $Common -notcontains $_.Name })
        $helpParameters = @($help.parameters.parameter | Where-Object { $_ })
    }

    It 'has a synopsis of its own, not the generated syntax' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis.Trim() | Should -Not -BeLike "$Name *"
        $help.Synopsis | Should -Not -BeLike '*<CommonParameters>*'
    }

    It 'has a description' {
        Get-Text $help.description | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with code and a title' {
        $examples = @($help.examples.example | Where-Object { $_ })
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $example.code | Should -Not -BeNullOrEmpty
            $example.title | Should -Not -BeNullOrEmpty
        }
    }

    It 'describes every parameter' {
        foreach ($parameter in $parameters) {
            $documented = $helpParameters | Where-Object name -EQ $parameter.Name
            $documented | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs help"
            Get-Text $documented.description | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs a description"
        }
    }

    It 'documents no parameter the cmdlet does not have' {
        $known = @($parameters.Name)
        $extra = @($helpParameters.name) + @($help.syntax.syntaxItem.parameter.name) | Where-Object { $_ -and $known -notcontains $_ }
        $extra | Select-Object -Unique | Should -BeNullOrEmpty
    }

    It 'gives each parameter the cmdlet''s required, position and pipeline input' {
        foreach ($parameter in $parameters) {
            $documented = $helpParameters | Where-Object name -EQ $parameter.Name
            $expected = Get-Expected $parameter
            "$($parameter.Name): $($documented.required) $($documented.position) $($documented.pipelineInput)" |
                Should -Be "$($parameter.Name): $($expected.Required) $($expected.Position) $($expected.Pipeline)"
        }
    }

    It 'shows one syntax per parameter set, with that set''s parameters' {
        $sets = @($command.ParameterSets | ForEach-Object { (@($_.Parameters.Name | Where-Object { $Common -notcontains $_ }) | Sort-Object) -join ' ' }) | Sort-Object
        $syntax = @($help.syntax.syntaxItem | ForEach-Object { (@($_.parameter.name) | Sort-Object) -join ' ' }) | Sort-Object
        $syntax | Should -Be $sets
    }

    It 'names the types the cmdlet outputs' {
        $documented = @($help.returnValues.returnValue.type.name | ForEach-Object { "$_".Trim() })
        foreach ($type in $command.OutputType) { $documented | Should -Contain $type.Name }
    }

    It 'links only to cmdlets of the module and its about topic' {
        $exported = @((Get-Command -Module DragonflowUpgrade -CommandType Cmdlet).Name)
        foreach ($link in @($help.relatedLinks.navigationLink.linkText | Where-Object { $_ })) {
            $link.Trim() | Should -BeIn ($exported + 'about_DragonflowUpgrade')
        }
    }
}

Describe 'The help of -Database' {
    BeforeAll {
        # Each cmdlet that takes -Database, and the first paragraph of its help: what the database may be.
        $script:DatabaseHelp = @(Get-Command -Module DragonflowUpgrade -CommandType Cmdlet | Where-Object { $_.Parameters.ContainsKey('Database') } | ForEach-Object {
            $parameter = (Get-Help $_.Name -Full).parameters.parameter | Where-Object name -EQ 'Database'
            [pscustomobject]@{ Name = $_.Name; Text = "$(@($parameter.description)[0].Text)" }
        })
    }

    It 'says the same of the database in every cmdlet that takes it' {
        $DatabaseHelp.Name | Should -Contain 'Invoke-DfUpgrade'
        $DatabaseHelp.Name | Should -Contain 'Stop-DfControlPlane'
        $DatabaseHelp.Name | Should -Contain 'Get-DfSchema'
        @($DatabaseHelp | Where-Object Text -CNE $DatabaseHelp[0].Text | ForEach-Object Name) | Should -BeNullOrEmpty
    }

    It 'names every database of the README''s supported deployments, TLS and etcd authentication included' {
        $readme = Get-Content (Join-Path $PSScriptRoot '../../README.md') -Raw
        $table = [regex]::Match($readme, '(?s)### Supported deployments.*?\n(\|.*?)\n\s*\n').Groups[1].Value
        $schemes = @([regex]::Matches($table, '\b[a-z][a-z-]*://') | ForEach-Object Value | Select-Object -Unique)
        $schemes | Should -Contain 'rediss-cluster://'
        $schemes | Should -Contain 'etcds://'
        foreach ($form in $schemes + 'etcd://user:password@' + '.jsonl.gz') {
            $DatabaseHelp[0].Text.Contains($form) | Should -BeTrue -Because "the help of -Database should name $form"
        }
    }
}

Describe 'about_DragonflowUpgrade' {
    It 'is a help topic that names only cmdlets the module has' {
        $text = Get-Content $AboutFile -Raw
        $text | Should -Match '^TOPIC\s+about_DragonflowUpgrade\s'
        $exported = @((Get-Command -Module DragonflowUpgrade -CommandType Cmdlet).Name)
        $named = [regex]::Matches($text, '\b[A-Z][a-z]+-Df[A-Za-z]+\b') | ForEach-Object Value | Select-Object -Unique
        $named | Where-Object { $exported -notcontains $_ } | Should -BeNullOrEmpty
    }

    It 'keeps its lines within 80 characters' {
        Get-Content $AboutFile | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }
}

Describe 'The lock cmdlets' {
    It 'share one noun, and the former Get-DfUpgradeLock still runs Get-DfNbDatabaseLock' {
        @(Get-Command -Module DragonflowUpgrade -CommandType Cmdlet | Where-Object Name -Like '*Lock*').Name | Sort-Object |
            Should -Be 'Get-DfNbDatabaseLock', 'Lock-DfNbDatabase', 'Unlock-DfNbDatabase'
        (Get-Command Get-DfUpgradeLock).ResolvedCommand.Name | Should -Be 'Get-DfNbDatabaseLock'
    }

    It 'ask before what stops a cloud or overwrites a database' {
        foreach ($name in 'Stop-DfControlPlane', 'Restore-DfNbDatabase', 'Undo-DfMigration') {
            $type = (Get-Command $name).ImplementingType
            $type.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact | Should -Be 'High' -Because $name
        }
    }
}
